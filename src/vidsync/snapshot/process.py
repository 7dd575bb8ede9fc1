"""Local-folder snapshots in a worker process, so the walk never competes with
the serving event loop for the GIL.

The child runs the same pipeline with its own reporter, whose events come back
over a pipe; the parent's relay thread publishes them (journal, hand-off) and
passes a cancel the other way. Workers fork from a forkserver that has the
pipeline imported, so starting one costs milliseconds, not an interpreter start.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from vidsync.crashpoints import AGENT_PID_ENV
from vidsync.models import INTERRUPTED, ProgressEvent, SnapshotState
from vidsync.progress.reporter import SnapshotReporter
from vidsync.settings import Settings
from vidsync.snapshot.local import LocalSource
from vidsync.snapshot.pipeline import SnapshotJob, SnapshotResult, run_snapshot
from vidsync.snapshot.source import CancelToken

log = logging.getLogger(__name__)

_PRELOAD = ["vidsync.snapshot.pipeline", "vidsync.snapshot.local", "vidsync.storage",
            "vidsync.storage.local"]
_GONE = INTERRUPTED


@dataclass(frozen=True)
class _Spec:
    settings: Settings
    project_id: str
    snapshot_id: str
    root: Path
    work_dir: Path
    waiting_message: str
    throttle: float
    expected: Any
    agent_pid: int


class ProcessRunner:
    """``runner(job)``: local-folder jobs in a worker process, others in this thread."""

    def __init__(self, settings: Settings, publish: Callable[[ProgressEvent], object]) -> None:
        self._settings = settings
        self._publish = publish
        self._ctx: Any = None
        self._ctx_lock = threading.Lock()

    def _context(self) -> Any:
        with self._ctx_lock:
            if self._ctx is None:
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(_PRELOAD)
                self._ctx = ctx
            return self._ctx

    def __call__(self, job: SnapshotJob) -> SnapshotResult:
        if not isinstance(job.source, LocalSource):
            return run_snapshot(job)
        spec = _Spec(self._settings, job.project_id, job.snapshot_id, job.source.root,
                     job.work_dir, job.waiting_message, job.throttle,
                     job.reporter.expected, os.getpid())
        ctx = self._context()
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=_child, args=(spec, theirs), daemon=True,
                           name=f"snapshot-{job.project_id}")
        proc.start()
        theirs.close()
        try:
            return self._relay(job, ours, proc)
        finally:
            ours.close()
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()

    def _relay(self, job: SnapshotJob, conn: Connection, proc: Any) -> SnapshotResult:
        cancel_sent = False
        while True:
            if job.cancel.cancelled and not cancel_sent:
                cancel_sent = True
                with contextlib.suppress(OSError):
                    conn.send(("cancel", job.cancel.reason))
            try:
                if not conn.poll(0.05):
                    continue
                kind, payload = conn.recv()
            except (EOFError, OSError):
                error = f"the snapshot process ended unexpectedly (exit code {proc.exitcode})"
                failed = SnapshotResult(state=SnapshotState.FAILED, error=error)
                if job.persist is not None:  # durable before anyone is told
                    job.persist(failed)
                job.reporter.fail(error)
                return failed
            if kind == "event":
                self._publish(payload)
            elif kind == "persist":
                # The child's outcome is recorded here, where the database is, and
                # only then may the child publish its terminal event.
                problem = None
                if job.persist is not None:
                    try:
                        job.persist(payload)
                    except Exception as exc:
                        problem = str(exc) or type(exc).__name__
                with contextlib.suppress(OSError):
                    conn.send(("persisted", problem))
            else:
                result: SnapshotResult = payload
                return result


def _child(spec: _Spec, conn: Connection) -> None:
    from vidsync.storage import open_store

    # A test crash point hit here must kill the agent, as it would in a thread.
    os.environ[AGENT_PID_ENV] = str(spec.agent_pid)
    cancel = CancelToken()
    send_lock = threading.Lock()
    persisted: queue.Queue[str | None] = queue.Queue()

    def listen() -> None:
        try:
            while True:
                kind, payload = conn.recv()
                if kind == "cancel":
                    cancel.cancel(payload)
                elif kind == "persisted":
                    persisted.put(payload)
        except (EOFError, OSError):  # the agent is gone: stop, nobody will record it
            cancel.cancel(_GONE)
            persisted.put(_GONE)

    def send(message: tuple[str, object]) -> None:
        with send_lock:
            conn.send(message)

    threading.Thread(target=listen, daemon=True).start()
    if spec.settings.snapshot_nice:  # below the serving loop (and so are the walk workers)
        os.nice(spec.settings.snapshot_nice)

    def persist(result: SnapshotResult) -> None:
        send(("persist", result))
        problem = persisted.get()
        if problem is not None:
            raise RuntimeError(problem)

    reporter = SnapshotReporter(lambda e: send(("event", e)), spec.project_id, spec.snapshot_id,
                                expected=spec.expected)
    reporter.start_step(1, spec.waiting_message)
    job = SnapshotJob(
        project_id=spec.project_id,
        snapshot_id=spec.snapshot_id,
        source=LocalSource(spec.root),
        store=open_store(spec.settings),
        reporter=reporter,
        work_dir=spec.work_dir,
        cancel=cancel,
        waiting_message=spec.waiting_message,
        throttle=spec.throttle,
        persist=persist,
    )
    try:
        result = run_snapshot(job)
    except BaseException as exc:  # never leave the parent without an answer
        result = SnapshotResult(state=SnapshotState.FAILED, error=f"snapshot process: {exc}")
    with contextlib.suppress(OSError):
        send(("result", result))
