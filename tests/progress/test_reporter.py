"""The honest bar: shares of the bar and the ETA follow last time's step durations.

A fake clock drives time; nothing waits.
"""

from __future__ import annotations

import pytest

from vidsync.clock import FakeClock
from vidsync.models import ProgressEvent, SnapshotRecord, SnapshotState, Step
from vidsync.progress.expected import (
    DEFAULT_WEIGHTS,
    Expected,
    expected_for,
    expected_from,
    step_durations,
    step_ranges,
)
from vidsync.progress.reporter import SnapshotReporter

# Last time: 1 s waiting, 1 s status, 96 s browsing 30,000 entries, 1 s compressing, 1 s upload.
LAST = Expected(
    step_durations={1: 1.0, 2: 1.0, 3: 96.0, 4: 1.0, 5: 1.0},
    file_count=29_000,
    entry_count=30_000,
    total_bytes=10**9,
    manifest_bytes=3_000_000,
)


def reporter(expected: Expected | None) -> tuple[SnapshotReporter, list[ProgressEvent], FakeClock]:
    clock = FakeClock()
    events: list[ProgressEvent] = []
    rep = SnapshotReporter(events.append, "p", "s", clock=clock, min_interval=0,
                           expected=expected)
    return rep, events, clock


def ev(number: int, t: float, step: Step | None = None, queued: bool = False) -> ProgressEvent:
    names = {1: Step.WAITING, 2: Step.BROWSING, 3: Step.BROWSING, 4: Step.COMPRESSING,
             5: Step.UPLOADING, 6: Step.COMPLETED}
    return ProgressEvent("p", step or names[number], number, 0, "m", t, queued=queued)


def test_step_durations_come_from_the_first_event_of_each_step() -> None:
    events = [ev(1, 100.0, queued=True), ev(1, 130.0), ev(1, 131.0), ev(2, 132.0), ev(3, 132.5),
              ev(3, 150.0), ev(4, 160.0), ev(5, 160.2), ev(6, 160.3)]
    # queued time is not step 1's; step 5 ends at "completed"
    assert step_durations(events) == pytest.approx({1: 2.0, 2: 0.5, 3: 27.5, 4: 0.2, 5: 0.1})
    # a step too quick to be seen took no time, the others keep theirs
    quick = [ev(1, 0.0), ev(3, 1.0), ev(6, 5.0)]
    assert step_durations(quick) == {1: 1.0, 2: 0.0, 3: 4.0, 4: 0.0, 5: 0.0}
    # only a completed run tells durations
    assert step_durations([ev(1, 0.0), ev(3, 1.0, Step.FAILED)]) == {}


def test_expectation_reads_the_previous_completed_snapshot() -> None:
    record = SnapshotRecord("old", "p", SnapshotState.COMPLETED, 0.0, 10.0,
                            file_count=90, directory_count=10, total_bytes=5000)

    class History:
        def latest_completed_snapshot(self, project_id: str) -> SnapshotRecord | None:
            return record if project_id == "p" else None

        def snapshot_events(self, snapshot_id: str) -> list[ProgressEvent]:
            assert snapshot_id == "old"
            return [ev(1, 0.0), ev(2, 1.0), ev(3, 2.0), ev(4, 8.0), ev(5, 9.0), ev(6, 10.0)]

    expected = expected_for(History(), "p")
    assert expected == expected_from(record, History().snapshot_events("old"))
    assert expected is not None and expected.entry_count == 100 and expected.timed
    assert expected_for(History(), "other") is None
    assert expected_for(object(), "p") is None  # a log without history


def test_shares_of_the_bar_follow_time() -> None:
    ranges = step_ranges(LAST)
    width = {n: hi - lo for n, (lo, hi) in ranges.items()}
    assert ranges[1][0] == 0 and ranges[5][1] == 99
    assert width[3] == pytest.approx(99 * 0.96, abs=1)
    # steps that take 1 % of the time get about 1 % of the bar, not half of it
    assert width[4] < 1.5 and width[5] < 1.5
    # without history: browsing still dominates
    default = step_ranges(None)
    assert default[3][1] - default[3][0] == pytest.approx(99 * DEFAULT_WEIGHTS[3] / 100, abs=1)


def test_browsing_shows_expected_total_and_the_bar_moves_with_the_files() -> None:
    rep, events, clock = reporter(LAST)
    rep.start_step(1, "Checking...")
    clock.advance(1)
    rep.start_step(2, "Status...")
    clock.advance(1)
    rep.start_step(3, "Browsing files...")  # a plain folder: no total of its own
    assert events[-1].step_total == 30_000
    seen = []
    for _ in range(12):
        clock.advance(4)
        rep.advance(1250)  # 12,000 files in 48 s: half of last time's speed
        seen.append(events[-1].progress)
    last = events[-1]
    assert last.step_done == 15_000 and last.step_total == 30_000
    # half the files: about half way through the bar (not stalled near 46 %)
    assert last.progress == pytest.approx(2 + 0.5 * 95, abs=2)
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    # whole-snapshot ETA: the other 15,000 files at the current rate + steps 4 and 5
    assert last.eta_seconds == pytest.approx(15_000 / (1250 / 4) + 2, rel=0.05)


def test_a_folder_bigger_than_last_time_waits_near_the_end_of_browsing() -> None:
    rep, events, _ = reporter(LAST)
    rep.start_step(3, "Browsing files...")
    rep.advance(40_000)
    assert events[-1].step_total == 40_000  # at least what was found
    lo, hi = step_ranges(LAST)[3]
    assert lo + 0.9 * (hi - lo) < events[-1].progress < hi
    rep.start_step(4, "Processing...", total=40_000)
    assert events[-1].progress >= int(hi)


def test_eta_from_the_very_start_when_history_exists() -> None:
    rep, events, clock = reporter(LAST)
    rep.start_step(1, "Checking...")
    assert events[-1].eta_seconds == pytest.approx(100, abs=0.5)
    clock.advance(0.5)
    rep.set_message("still checking")
    # step 1 moves with time (half of its expected second) and the ETA counts down
    assert events[-1].eta_seconds == pytest.approx(99.5, abs=0.5)
    assert events[-1].progress == int(step_ranges(LAST)[1][1] / 2)


def test_first_snapshot_says_estimating_until_it_can_tell() -> None:
    rep, events, clock = reporter(None)
    rep.start_step(1, "Checking...")
    rep.start_step(2, "Status...")
    rep.start_step(3, "Browsing files...")
    for _ in range(5):
        clock.advance(1)
        rep.advance(500)
    assert all(e.eta_seconds is None for e in events)  # "estimating"
    assert events[-1].step_total is None
    rep.start_step(4, "Processing...", total=2500)
    clock.advance(1)
    rep.advance(1000)
    assert events[-1].eta_seconds == pytest.approx(1.5)


def test_progress_never_goes_back_and_reaches_100_only_on_completion() -> None:
    rep, events, clock = reporter(LAST)
    rep.start_step(1, "Checking...")
    clock.advance(5)  # step 1 overruns its expected second
    rep.set_message("slow scan")
    rep.start_step(2, "Status...")
    rep.start_step(3, "Browsing files...", total=10)
    rep.advance(10)
    rep.start_step(4, "Processing...", total=10)
    rep.start_step(5, "Uploading...", total=100)
    rep.advance(100)
    rep.complete("file:///x")
    values = [e.progress for e in events]
    assert values == sorted(values)
    assert values[-1] == 100 and values.count(100) == 1 and values[-2] == 99


def test_queued_snapshot_is_a_field_and_its_wait_is_not_step_time() -> None:
    rep, events, clock = reporter(LAST)
    rep.start_step(1, "Queued: waiting for a free batch slot...", queued=True)
    assert events[-1].queued and events[-1].to_json()["queued"] is True
    assert events[-1].eta_seconds is None
    clock.advance(60)
    rep.start_step(1, "Checking project folder...")  # its slot came
    last = events[-1]
    assert not last.queued and last.message == "Checking project folder..."
    assert last.progress == 0 and last.eta_seconds == pytest.approx(100, abs=0.5)
    assert ProgressEvent.from_json(events[0].to_json()).queued
