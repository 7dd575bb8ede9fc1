"""What a snapshot is expected to take, learnt from the project's previous one.

The honest bar (issue 12) gives each step the share of the bar that the step
took of the whole time last time, and tells a whole-snapshot ETA from the start.
Everything here is derived from history: the previous completed snapshot's record
(files, bytes) and its stored progress events (when each step began).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from vidsync.models import ProgressEvent, SnapshotRecord, Step

#: Steps 1-5 share the bar's 0-99; 100 is said only by ``completed``.
RUNNING_STEPS = (1, 2, 3, 4, 5)

#: Shares used when there is no history: browsing dominates on a plain folder,
#: compressing and uploading a manifest are short (a manifest is ~100 bytes per entry).
DEFAULT_WEIGHTS: dict[int, float] = {1: 2.0, 2: 2.0, 3: 84.0, 4: 7.0, 5: 5.0}

# A step never gets less than this share of the bar, so even a 10 ms step moves it.
_MIN_SHARE = 0.5


@runtime_checkable
class SnapshotHistory(Protocol):
    """Where expectations come from (the SQLite store in the agent)."""

    def latest_completed_snapshot(self, project_id: str) -> SnapshotRecord | None: ...

    def snapshot_events(self, snapshot_id: str) -> list[ProgressEvent]: ...


@dataclass(frozen=True, slots=True)
class Expected:
    """Step durations (seconds, by step number) and the counts of the last snapshot."""

    step_durations: dict[int, float] = field(default_factory=dict)
    file_count: int | None = None
    entry_count: int | None = None  # files and folders: what step 3 counts
    total_bytes: int | None = None
    manifest_bytes: int | None = None

    @property
    def total_seconds(self) -> float:
        return sum(self.step_durations.get(n, 0.0) for n in RUNNING_STEPS)

    @property
    def timed(self) -> bool:
        """True when every running step has a duration: ETAs can be told from the start."""
        return all(n in self.step_durations for n in RUNNING_STEPS) and self.total_seconds > 0


def step_durations(events: Iterable[ProgressEvent]) -> dict[int, float]:
    """How long each step lasted, from the first event of each step to the next step's.

    Time spent queued for a batch slot is not part of step 1. Only a run that
    reached ``completed`` has a duration for its last step.
    """
    starts: dict[int, float] = {}
    end: float | None = None
    for event in events:
        if event.step is Step.COMPLETED:
            end = event.timestamp
            break
        if event.terminal:
            return {}
        if event.queued:
            continue
        starts.setdefault(event.step_number, event.timestamp)
    if end is None:
        return {}
    ordered = sorted(starts.items())
    durations: dict[int, float] = {}
    for i, (number, began) in enumerate(ordered):
        finished = ordered[i + 1][1] if i + 1 < len(ordered) else end
        durations[number] = max(finished - began, 0.0)
    for number in RUNNING_STEPS:  # a step too short to be seen took no time
        durations.setdefault(number, 0.0)
    return durations


def expected_from(record: SnapshotRecord, events: Iterable[ProgressEvent]) -> Expected:
    entries = None
    if record.file_count is not None:
        entries = record.file_count + (record.directory_count or 0)
    return Expected(
        step_durations=step_durations(events),
        file_count=record.file_count,
        entry_count=entries,
        total_bytes=record.total_bytes,
        manifest_bytes=record.manifest_bytes,
    )


def expected_for(history: object, project_id: str) -> Expected | None:
    """The expectation of ``project_id``'s next snapshot, or None without history."""
    if not isinstance(history, SnapshotHistory):
        return None
    record = history.latest_completed_snapshot(project_id)
    if record is None:
        return None
    return expected_from(record, history.snapshot_events(record.id))


def step_ranges(expected: Expected | None) -> dict[int, tuple[float, float]]:
    """The bar's range (0-99) of each running step, in proportion to its time."""
    weights = dict(DEFAULT_WEIGHTS)
    if expected is not None and expected.timed:
        weights = {n: expected.step_durations[n] for n in RUNNING_STEPS}
    total = sum(weights.values())
    shares = {n: max(weights[n] / total * 99, _MIN_SHARE) for n in RUNNING_STEPS}
    scale = 99 / sum(shares.values())
    ranges: dict[int, tuple[float, float]] = {}
    lo = 0.0
    for n in RUNNING_STEPS:
        hi = lo + shares[n] * scale
        ranges[n] = (lo, hi)
        lo = hi
    ranges[5] = (ranges[5][0], 99.0)
    return ranges
