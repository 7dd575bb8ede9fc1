"""Running snapshots: one at a time per project, each in its own worker thread."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from vidsync.clock import Clock, SystemClock
from vidsync.models import Project, SnapshotRecord, SnapshotState
from vidsync.progress.reporter import SnapshotReporter
from vidsync.progress.tracker import ProgressTracker
from vidsync.snapshot.pipeline import WAITING_MESSAGES, SnapshotJob, SnapshotResult, run_snapshot
from vidsync.snapshot.source import CancelToken, Source
from vidsync.storage.base import Store


class SnapshotLog(Protocol):
    """Where snapshot records are kept (the SQLite store in the agent)."""

    def save_snapshot(self, record: SnapshotRecord) -> None: ...


class SnapshotConflict(Exception):
    def __init__(self, project_id: str, snapshot_id: str) -> None:
        super().__init__(
            f"a snapshot of project {project_id} is already running ({snapshot_id}); "
            "wait for it or cancel it first"
        )
        self.snapshot_id = snapshot_id


def new_snapshot_id(clock: Clock) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(clock.time()))
    return f"snap-{stamp}-{secrets.token_hex(4)}"


@dataclass
class _Running:
    snapshot_id: str
    cancel: CancelToken
    thread: threading.Thread
    done: threading.Event


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
        on_finished: Callable[[SnapshotRecord], None] | None = None,
    ) -> None:
        self._tracker = tracker
        self._log = log
        self._store = store
        self._work_dir = work_dir
        self._source_for = source_for
        self._clock = clock or SystemClock()
        self._throttle = throttle
        self._on_finished = on_finished
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}

    def start(self, project: Project) -> str:
        """Start a snapshot of ``project`` in the background; returns its id."""
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
            )
            self._log.save_snapshot(record)
            cancel = CancelToken()
            reporter = SnapshotReporter(
                self._tracker.publish, project.id, snapshot_id, clock=self._clock
            )
            done = threading.Event()
            thread = threading.Thread(
                target=self._run,
                args=(project, record, reporter, cancel, done),
                name=f"snapshot-{project.id}",
                daemon=True,
            )
            self._running[project.id] = _Running(snapshot_id, cancel, thread, done)
            # The first event goes out before start() returns, so a poll right
            # after the start call already sees the snapshot.
            reporter.start_step(1, WAITING_MESSAGES.get(project.source.value, "Waiting..."))
            thread.start()
        return snapshot_id

    def _run(
        self,
        project: Project,
        record: SnapshotRecord,
        reporter: SnapshotReporter,
        cancel: CancelToken,
        done: threading.Event,
    ) -> None:
        try:
            try:
                source = self._source_for(project)
            except Exception as exc:  # a source that cannot even be built fails the snapshot
                result = SnapshotResult(state=SnapshotState.FAILED, error=str(exc))
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
                    waiting_message=WAITING_MESSAGES.get(project.source.value, "Waiting..."),
                    throttle=self._throttle,
                    clock=self._clock,
                )
                result = run_snapshot(job)
            record.state = result.state
            record.finished_at = self._clock.time()
            record.error = result.error
            record.file_count = result.file_count
            record.directory_count = result.directory_count
            record.total_bytes = result.total_bytes
            record.skipped_count = result.skipped_count
            record.manifest_url = result.snapshot_url
            record.manifest_bytes = result.manifest_bytes
            self._log.save_snapshot(record)
            if self._on_finished is not None:
                self._on_finished(record)
        finally:
            with self._lock:
                running = self._running.get(project.id)
                if running is not None and running.snapshot_id == record.id:
                    del self._running[project.id]
            done.set()

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
        running.cancel.cancel()
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
        for job in running:
            job.cancel.cancel("interrupted: the agent stopped")
        deadline = time.monotonic() + timeout
        for job in running:
            job.done.wait(max(0.0, deadline - time.monotonic()))
