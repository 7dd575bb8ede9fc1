"""Running snapshots: one at a time per project, each in its own worker thread."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from vidsync.clock import Clock, SystemClock
from vidsync.models import INTERRUPTED, Project, SnapshotRecord, SnapshotState
from vidsync.progress.expected import expected_for
from vidsync.progress.reporter import SnapshotReporter
from vidsync.progress.tracker import ProgressTracker
from vidsync.snapshot.pipeline import WAITING_MESSAGES, SnapshotJob, SnapshotResult, run_snapshot
from vidsync.snapshot.source import CancelToken, Source
from vidsync.storage.base import Store


class SnapshotLog(Protocol):
    """Where snapshot records are kept (the SQLite store in the agent)."""

    def save_snapshot(
        self, record: SnapshotRecord, skipped_paths: Sequence[tuple[str, str]] = ()
    ) -> None: ...


class SnapshotConflict(Exception):
    def __init__(self, project_id: str, snapshot_id: str) -> None:
        super().__init__(
            f"a snapshot of project {project_id} is already running ({snapshot_id}); "
            "wait for it or cancel it first"
        )
        self.snapshot_id = snapshot_id


def _waiting(project: Project) -> str:
    return WAITING_MESSAGES.get(project.source.value, "Waiting...")


def new_snapshot_id(clock: Clock) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(clock.time()))
    return f"snap-{stamp}-{secrets.token_hex(4)}"


# A recorded snapshot lets go of its project within this (its worker process
# gets 5 s to exit); a start waits for that rather than answering 409.
FINISHING_WAIT = 10.0


@dataclass
class _Running:
    project: Project
    record: SnapshotRecord
    reporter: SnapshotReporter
    cancel: CancelToken
    done: threading.Event
    thread: threading.Thread | None = None  # None while queued

    @property
    def snapshot_id(self) -> str:
        return self.record.id


class Jobs:
    def __init__(
        self,
        *,
        tracker: ProgressTracker,
        log: SnapshotLog,
        store: Store,
        work_dir: Path,
        source_for: Callable[[Project], Source],
        clock: Clock | None = None,
        throttle: float = 0.0,
        runner: Callable[[SnapshotJob], SnapshotResult] = run_snapshot,
        claim: Callable[[SnapshotRecord], str | None] | None = None,
    ) -> None:
        """``runner`` runs one job to its end (``run_snapshot``, or in a worker process).

        ``claim`` saves a new running record unless its project has one running
        already, and then returns that one's id (``Database.claim_snapshot``:
        it decides for every process sharing the database). Without it the
        record is simply saved: this object alone decides."""
        self._runner = runner
        self._claim = claim
        self._tracker = tracker
        self._log = log
        self._store = store
        self._work_dir = work_dir
        self._source_for = source_for
        self._clock = clock or SystemClock()
        self._throttle = throttle
        self._finished_listeners: list[Callable[[SnapshotRecord], None]] = []
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}

    def add_finished_listener(self, listener: Callable[[SnapshotRecord], None]) -> None:
        self._finished_listeners.append(listener)

    def start(self, project: Project) -> str:
        """Start a snapshot of ``project`` in the background; returns its id."""
        snapshot_id = self.reserve(project)
        self.launch(project.id)
        return snapshot_id

    def reserve(
        self,
        project: Project,
        message: str | None = None,
        *,
        queued: bool = False,
        resume_of: str | None = None,
    ) -> str:
        """Create the snapshot (record, id, first event) without running it yet.

        The project counts as busy from now on. ``launch`` runs it; ``cancel``
        before that ends it as cancelled.
        """
        # Outside the lock: a read of the last snapshot's events (the honest bar).
        expected = expected_for(self._log, project.id)
        self._let_finish(project.id)
        with self._lock:
            running = self._running.get(project.id)
            if running is not None:
                raise SnapshotConflict(project.id, running.snapshot_id)
            snapshot_id = new_snapshot_id(self._clock)
            record = SnapshotRecord(
                id=snapshot_id,
                project_id=project.id,
                state=SnapshotState.RUNNING,
                started_at=self._clock.time(),
                resume_of=resume_of,
            )
            if self._claim is None:
                self._log.save_snapshot(record)
            else:
                other = self._claim(record)
                if other is not None:
                    raise SnapshotConflict(project.id, other)
            reporter = SnapshotReporter(
                self._tracker.publish, project.id, snapshot_id, clock=self._clock,
                expected=expected,
            )
            self._running[project.id] = _Running(
                project, record, reporter, CancelToken(), threading.Event()
            )
            # The first event goes out before this returns, so a poll right after
            # the start call already sees the snapshot.
            reporter.start_step(1, message or _waiting(project), queued=queued)
        return snapshot_id

    def _let_finish(self, project_id: str) -> None:
        """Wait for a snapshot whose outcome is already recorded to let go of the
        project (its terminal event, the end of its worker): whoever saw it
        completed and starts the next one must not get a conflict."""
        with self._lock:
            running = self._running.get(project_id)
        if running is not None and running.record.state is not SnapshotState.RUNNING:
            running.done.wait(FINISHING_WAIT)

    def launch(self, project_id: str) -> bool:
        """Run a reserved snapshot; False if it is no longer waiting."""
        with self._lock:
            job = self._running.get(project_id)
            if job is None or job.thread is not None or job.cancel.cancelled:
                return False
            job.thread = threading.Thread(
                target=self._run,
                args=(job.project, job.record, job.reporter, job.cancel, job.done),
                name=f"snapshot-{project_id}",
                daemon=True,
            )
            job.thread.start()
        return True

    def _run(
        self,
        project: Project,
        record: SnapshotRecord,
        reporter: SnapshotReporter,
        cancel: CancelToken,
        done: threading.Event,
    ) -> None:
        try:
            if reporter.queued:  # its slot came: it is no longer waiting for one
                reporter.start_step(1, _waiting(project))
            try:
                source = self._source_for(project)
            except Exception as exc:  # a source that cannot even be built fails the snapshot
                self._record(record, SnapshotResult(state=SnapshotState.FAILED, error=str(exc)))
                reporter.fail(str(exc))
            else:
                job = SnapshotJob(
                    project_id=project.id,
                    snapshot_id=record.id,
                    source=source,
                    store=self._store,
                    reporter=reporter,
                    work_dir=self._work_dir,
                    cancel=cancel,
                    waiting_message=reporter.message,  # announced by reserve()
                    throttle=self._throttle,
                    clock=self._clock,
                    persist=lambda result: self._record(record, result),
                )
                self._runner(job)
        finally:
            self._release(project.id, record.id, done)

    def _record(self, record: SnapshotRecord, result: SnapshotResult) -> None:
        """Make the outcome durable; callers publish the terminal event only after."""
        result.apply_to(record, self._clock.time())
        self._log.save_snapshot(record, result.skipped_paths)

    def _release(self, project_id: str, snapshot_id: str, done: threading.Event) -> None:
        with self._lock:
            running = self._running.get(project_id)
            if running is not None and running.snapshot_id == snapshot_id:
                del self._running[project_id]
                record = running.record
            else:
                record = None
        done.set()
        if record is not None:
            for listener in self._finished_listeners:
                listener(record)

    @property
    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    def running(self, project_id: str) -> str | None:
        with self._lock:
            running = self._running.get(project_id)
            return running.snapshot_id if running else None

    def cancel(self, project_id: str) -> str | None:
        """Ask the running snapshot of a project to stop; returns its id, or None."""
        with self._lock:
            running = self._running.get(project_id)
            if running is None:
                return None
            queued = running.thread is None
            # Under the lock, so launch() sees it and never starts a cancelled job.
            running.cancel.cancel()
        if queued:  # never launched: end it here
            self._record(running.record, SnapshotResult(state=SnapshotState.CANCELLED))
            running.reporter.cancelled()
            self._release(project_id, running.snapshot_id, running.done)
        return running.snapshot_id

    def wait(self, project_id: str, timeout: float | None = None) -> bool:
        """Wait for the project's running snapshot to end; True if none is running."""
        with self._lock:
            running = self._running.get(project_id)
        return running is None or running.done.wait(timeout)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every running snapshot and wait for the threads to record their end."""
        with self._lock:
            running = list(self._running.values())
            queued = {job.snapshot_id for job in running if job.thread is None}
            for job in running:
                job.cancel.cancel(INTERRUPTED)
        for job in running:
            if job.snapshot_id in queued:
                self._record(job.record, SnapshotResult(SnapshotState.FAILED, error=INTERRUPTED))
                job.reporter.fail(INTERRUPTED)
                self._release(job.project.id, job.snapshot_id, job.done)
        deadline = time.monotonic() + timeout
        for job in running:
            job.done.wait(max(0.0, deadline - time.monotonic()))
