"""Benchmark: how honest the progress bar and the ETA are, against the old fixed ranges.

    .venv/bin/python bench/bench_progress.py [--files 20000] [--throttle 0.0002]

Runs the real pipeline on a generated folder twice in this process (the second
run has the first as history), records every event with the time it was
published, and prints, per run:

- the bar's mean and worst distance from the share of time elapsed
  (a perfectly time-honest bar is at 37 % when 37 % of the time has passed),
  for the new reporter and, from the same events, the old fixed step ranges
  (0-5, 5-10, 10-50, 50-75, 75-99) as the baseline;
- the whole-snapshot ETA's error at 25 %, 50 % and 75 % of the run, as a
  share of the run's length (n/a: the reporter said "estimating").

``--throttle`` slows browsing (seconds per entry) and compressing (per MiB) as
a folder on a slow disk would; the ratios matter, not the absolute times.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vidsync.models import ProgressEvent, SnapshotRecord, SnapshotState
from vidsync.progress.expected import Expected, expected_from
from vidsync.progress.reporter import SnapshotReporter
from vidsync.snapshot.local import LocalSource
from vidsync.snapshot.pipeline import SnapshotJob, run_snapshot
from vidsync.storage.local import LocalStore

OLD_RANGES = {1: (0, 5), 2: (5, 10), 3: (10, 50), 4: (50, 75), 5: (75, 99)}


@dataclass
class Run:
    events: list[ProgressEvent]
    record: SnapshotRecord


def make_folder(root: Path, files: int) -> None:
    for i in range(files):
        folder = root / f"d{i // 500:04d}"
        if i % 500 == 0:
            folder.mkdir(parents=True)
        (folder / f"clip{i:07d}.mov").write_bytes(b"x" * (i % 200))


def run(folder: Path, work: Path, store: LocalStore, expected: Expected | None,
        throttle: float, name: str) -> Run:
    events: list[ProgressEvent] = []

    def sink(event: ProgressEvent) -> None:
        events.append(event.replace(timestamp=time.monotonic()))

    reporter = SnapshotReporter(sink, "bench", name, expected=expected)
    started = time.time()
    result = run_snapshot(SnapshotJob(
        project_id="bench", snapshot_id=name, source=LocalSource(folder), store=store,
        reporter=reporter, work_dir=work, waiting_message="Checking project folder...",
        throttle=throttle,
    ))
    assert result.state is SnapshotState.COMPLETED, result.error
    record = SnapshotRecord(name, "bench", SnapshotState.COMPLETED, started)
    result.apply_to(record, time.time())
    return Run(events, record)


def old_progress(event: ProgressEvent) -> float:
    if event.step_number not in OLD_RANGES:
        return 100.0 if event.step_number == 6 else 0.0
    lo, hi = OLD_RANGES[event.step_number]
    done, total = event.step_done or 0.0, event.step_total
    if total and event.step_number != 3:
        fraction = min(done / total, 1.0)
    else:  # a plain folder never said its size: the old reporter crept towards 90 %
        fraction = 0.9 * done / (done + 2000.0)
    return lo + (hi - lo) * fraction


def honesty(
    events: list[ProgressEvent], value: Callable[[ProgressEvent], float]
) -> tuple[float, float]:
    """Mean and worst |bar - elapsed share|, weighted by how long each value showed."""
    t0, t1 = events[0].timestamp, events[-1].timestamp
    span = t1 - t0
    total = worst = 0.0
    for a, b in itertools.pairwise(events):
        bar = value(a)
        for t in (a.timestamp, b.timestamp):  # the value shows from a until b
            worst = max(worst, abs(bar - 100 * (t - t0) / span))
        mid = (a.timestamp + b.timestamp) / 2
        total += abs(bar - 100 * (mid - t0) / span) * (b.timestamp - a.timestamp)
    return total / span, worst


def eta_errors(events: list[ProgressEvent]) -> list[str]:
    t0, t1 = events[0].timestamp, events[-1].timestamp
    out = []
    for share in (0.25, 0.5, 0.75):
        at = t0 + share * (t1 - t0)
        shown = [e for e in events if e.timestamp <= at][-1]
        if shown.eta_seconds is None:
            out.append("n/a")
            continue
        actual = t1 - shown.timestamp
        out.append(f"{100 * abs(shown.eta_seconds - actual) / (t1 - t0):.0f} %")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--throttle", type=float, default=0.0002)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        make_folder(base / "folder", args.files)
        store = LocalStore(base / "store")
        first = run(base / "folder", base / "work", store, None, args.throttle, "first")
        expected = expected_from(first.record, first.events)
        second = run(base / "folder", base / "work", store, expected, args.throttle, "second")
    print(f"{args.files:,} files, throttle {args.throttle} s per entry")
    print(f"{'run':<8} {'seconds':>8} {'bar-vs-time mean/worst':>24} {'old ranges mean/worst':>23}"
          f" {'ratio':>6}  ETA error at 25/50/75 %")
    for label, r in (("first", first), ("second", second)):
        ev = r.events
        new_mean, new_worst = honesty(ev, lambda e: float(e.progress))
        old_mean, old_worst = honesty(ev, old_progress)
        seconds = ev[-1].timestamp - ev[0].timestamp
        print(f"{label:<8} {seconds:>8.2f} {new_mean:>14.1f} / {new_worst:>5.1f} "
              f"{old_mean:>13.1f} / {old_worst:>5.1f} {new_mean / old_mean:>6.2f}  "
              + " / ".join(eta_errors(ev)))


if __name__ == "__main__":
    main()
