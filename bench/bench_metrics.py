"""Benchmark: what the metrics cost the hot paths, against the same paths without them.

    .venv/bin/python bench/bench_metrics.py [--events 20000] [--rounds 7]
    PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) .venv/bin/python bench/bench_metrics.py

Two paths, each timed in alternating rounds (without, with, without, with...),
the ratio taken round by round and its median printed:

- publish: ``ProgressTracker.publish`` of one event (no subscribers), without and
  with the metrics' tracker listener (events counter, step clock, running gauge);
- frame: what the SSE response does per subscriber per event, ``sse_frame()``, without
  and with the per-stream ``on_sent`` hook (latency histogram).

With ``PROMETHEUS_MULTIPROC_DIR`` set, prometheus-client writes every sample to
a memory-mapped file: run it both ways to see that mode's price.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vidsync.api.metrics import AgentMetrics, multiprocess_dir
from vidsync.clock import SystemClock
from vidsync.models import STEP_NAMES, ProgressEvent
from vidsync.progress.tracker import ProgressTracker
from vidsync.store.db import Database


def events(n: int, clock: SystemClock, tag: str) -> list[ProgressEvent]:
    """``n`` events of snapshots that go through steps 1-5 (50 events per snapshot)."""
    out = []
    for i in range(n):
        snap, k = divmod(i, 50)
        step = 1 + k // 10
        out.append(ProgressEvent(
            project_id=f"p{snap % 20}", step=STEP_NAMES[step], step_number=step,
            progress=k * 2, message="Browsing files...", timestamp=clock.time(),
            snapshot_id=f"snap-{tag}-{snap}", step_done=float(k), step_total=50.0,
        ))
    return out


def paired(
    rounds: int, n: int, without: Callable[[int], float], with_: Callable[[int], float]
) -> str:
    ratios, base, extra = [], [], []
    for r in range(rounds):
        a = without(r)
        b = with_(r)
        base.append(a)
        extra.append(b - a)
        ratios.append(b / a)
    us = statistics.median(base) / n * 1e6
    more = statistics.median(extra) / n * 1e6
    return f"{us:6.2f} us/event, +{more:5.2f} us, ratio {statistics.median(ratios):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "bench.db")
        metrics = AgentMetrics(db, clock)

        def publish(listen: bool) -> Callable[[int], float]:
            def run(r: int) -> float:
                tracker = ProgressTracker(clock=clock, ring_size=100)
                if listen:
                    tracker.add_listener(metrics.on_event)
                batch = events(args.events, clock, f"{r}-{listen}")
                start = time.perf_counter()
                for event in batch:
                    tracker.publish(event)
                return time.perf_counter() - start
            return run

        hooks = [metrics.stream_hook() for _ in range(args.rounds)]  # opened before the events
        batch = [e.replace(id=i + 1) for i, e in enumerate(events(args.events, clock, "f"))]
        for e in batch:
            e.json_text()  # made once per event, whoever sends it

        def frames(hook: bool) -> Callable[[int], float]:
            def run(r: int) -> float:
                sent = hooks[r] if hook else None
                start = time.perf_counter()
                for event in batch:
                    event.sse_frame()
                    if sent is not None:
                        sent(event)
                return time.perf_counter() - start
            return run

        mode = "multiprocess" if multiprocess_dir() else "single process"
        print(f"prometheus-client {mode}; {args.events} events, median of {args.rounds} rounds")
        rounds, n = args.rounds, args.events
        print(f"publish, without/with listener: {paired(rounds, n, publish(False), publish(True))}")
        print(f"frame, without/with on_sent:    {paired(rounds, n, frames(False), frames(True))}")
        db.close()


if __name__ == "__main__":
    main()
