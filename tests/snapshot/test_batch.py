from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from support.agent import wait_until
from vidsync.models import (
    FolderStatus,
    ManifestEntry,
    Project,
    SnapshotRecord,
    SnapshotState,
    SourceKind,
)
from vidsync.progress.tracker import ProgressTracker
from vidsync.snapshot.batch import BatchRunner
from vidsync.snapshot.jobs import Jobs
from vidsync.snapshot.pipeline import SnapshotJob, SnapshotResult
from vidsync.snapshot.skips import SkipLog
from vidsync.snapshot.source import CancelToken, StepProgress
from vidsync.storage.local import LocalStore


class Concurrency:
    """How many gated sources are in step 3 at once, and the most ever seen."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()


class GatedSource:
    """Holds step 3 until released, and counts how many run at once."""

    def __init__(self, gate: threading.Semaphore, seen: Concurrency) -> None:
        self.gate = gate
        self.seen = seen
        self.skips = SkipLog()
        self.skipped = 0

    def check_root(self) -> None: ...

    def wait_ready(self, progress: StepProgress, cancel: CancelToken) -> None: ...

    def status(self, progress: StepProgress, cancel: CancelToken) -> FolderStatus:
        return FolderStatus()

    def entries(self, progress: StepProgress, cancel: CancelToken) -> Iterator[ManifestEntry]:
        seen = self.seen
        with seen.lock:
            seen.running += 1
            seen.peak = max(seen.peak, seen.running)
        try:
            assert self.gate.acquire(timeout=10)
            yield ManifestEntry("f", 1, False, 0)
        finally:
            with seen.lock:
                seen.running -= 1


class Log:
    def __init__(self) -> None:
        self.records: dict[str, SnapshotRecord] = {}

    def save_snapshot(
        self, record: SnapshotRecord, skipped_paths: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.records[record.id] = record


def test_batch_never_runs_more_than_the_limit(tmp_path: Path) -> None:
    gate = threading.Semaphore(0)
    seen = Concurrency()
    log = Log()
    jobs = Jobs(tracker=ProgressTracker(), log=log, store=LocalStore(tmp_path / "s"),
                work_dir=tmp_path / "w", source_for=lambda p: GatedSource(gate, seen))
    batch = BatchRunner(jobs, limit=2)
    projects = [Project(f"p{i}", f"p{i}", "/x", SourceKind.LOCAL, 0) for i in range(7)]
    result = batch.submit(projects)
    assert (len(result.started), len(result.queued)) == (2, 5)
    finished = threading.Semaphore(0)
    jobs.add_finished_listener(lambda r: finished.release())
    for left in range(7, 0, -1):
        # Both slots fill before one is let through: without this wait a loaded
        # machine could run the batch one at a time and still pass the count.
        running = min(left, 2)
        wait_until(lambda: seen.running == running, timeout=10)  # noqa: B023
        gate.release()  # let one through; the next queued one starts when it ends
        assert finished.acquire(timeout=10)
    for p in projects:
        assert jobs.wait(p.id, timeout=10)
    assert seen.peak == 2
    assert all(r.state is SnapshotState.COMPLETED for r in log.records.values())
    assert len(log.records) == 7


def test_cancelling_a_queued_snapshot_ends_it_without_running(tmp_path: Path) -> None:
    gate = threading.Semaphore(0)
    seen = Concurrency()
    log = Log()
    tracker = ProgressTracker()
    jobs = Jobs(tracker=tracker, log=log, store=LocalStore(tmp_path / "s"),
                work_dir=tmp_path / "w", source_for=lambda p: GatedSource(gate, seen))
    batch = BatchRunner(jobs, limit=1)
    projects = [Project(f"q{i}", f"q{i}", "/x", SourceKind.LOCAL, 0) for i in range(2)]
    result = batch.submit(projects)
    queued = result.queued[0]
    assert tracker.current("q1").message.startswith("Queued")  # type: ignore[union-attr]
    assert not tracker.current("q0").message.startswith("Queued")  # type: ignore[union-attr]
    assert jobs.cancel("q1") == queued["snapshotId"]
    assert tracker.current("q1").step.value == "cancelled"  # type: ignore[union-attr]
    gate.release()
    assert jobs.wait("q0", timeout=10)
    assert log.records[queued["snapshotId"]].state is SnapshotState.CANCELLED
    # The batch hears of the end from a listener, called after ``wait`` returns.
    wait_until(lambda: batch.active == 0, timeout=10)



def test_a_start_right_after_the_outcome_is_recorded_waits_for_it_instead_of_409(
    tmp_path: Path,
) -> None:
    """Between "completed" in the history and the end of the job (its terminal
    event, its worker process exiting) a new start is not a conflict."""
    lingering = threading.Event()
    log = Log()

    def runner(job: SnapshotJob) -> SnapshotResult:
        result = SnapshotResult(state=SnapshotState.COMPLETED)
        assert job.persist is not None
        job.persist(result)  # "completed" is in the history from here on
        assert lingering.wait(10)
        job.reporter.complete("file:///s")
        return result

    source = GatedSource(threading.Semaphore(), Concurrency())
    jobs = Jobs(tracker=ProgressTracker(), log=log, store=LocalStore(tmp_path / "s"),
                work_dir=tmp_path / "w", source_for=lambda p: source, runner=runner)
    project = Project("p", "p", "/x", SourceKind.LOCAL, 0)
    first = jobs.start(project)
    wait_until(lambda: log.records[first].state is SnapshotState.COMPLETED)
    second: list[str] = []
    starting = threading.Thread(target=lambda: second.append(jobs.start(project)))
    starting.start()
    lingering.set()
    starting.join(20)
    assert len(second) == 1 and second[0] != first
    assert jobs.wait(project.id, timeout=10)


def test_queued_is_a_field_that_clears_when_the_slot_comes(tmp_path: Path) -> None:
    gate = threading.Semaphore(0)
    seen = Concurrency()
    tracker = ProgressTracker()
    events: list[tuple[str, bool, int]] = []
    tracker.add_listener(lambda e: events.append((e.project_id, e.queued, e.step_number)))
    jobs = Jobs(tracker=tracker, log=Log(), store=LocalStore(tmp_path / "s"),
                work_dir=tmp_path / "w", source_for=lambda p: GatedSource(gate, seen))
    batch = BatchRunner(jobs, limit=1)
    projects = [Project(f"q{i}", f"q{i}", "/x", SourceKind.LOCAL, 0) for i in range(2)]
    batch.submit(projects)
    assert tracker.current("q1").queued  # type: ignore[union-attr]
    assert tracker.current("q1").to_json()["queued"] is True  # type: ignore[union-attr]
    assert not tracker.current("q0").queued  # type: ignore[union-attr]
    gate.release()
    assert jobs.wait("q0", timeout=10)
    gate.release()
    assert jobs.wait("q1", timeout=10)
    q1 = [(queued, step) for pid, queued, step in events if pid == "q1"]
    # Queued only while waiting: the first event of its own run says it no longer is.
    assert q1[0] == (True, 1)
    assert (False, 1) in q1 and all(not queued for queued, step in q1 if step > 1)
