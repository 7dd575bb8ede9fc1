"""Batch snapshots: many projects, at most ``limit`` of them running at once."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from vidsync.models import Project, SnapshotRecord
from vidsync.snapshot.jobs import Jobs, SnapshotConflict

QUEUED_MESSAGE = "Queued: waiting for a free batch slot..."


@dataclass
class BatchResult:
    started: list[dict[str, str]] = field(default_factory=list)
    queued: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


class BatchRunner:
    """Every snapshot of a batch is reserved at once (its id and a "queued" event
    exist from the start, so clients can follow it); only ``limit`` run at a time,
    the next one starting when one ends."""

    def __init__(self, jobs: Jobs, limit: int) -> None:
        self._jobs = jobs
        self.limit = max(1, limit)
        self._lock = threading.Lock()
        self._active: set[str] = set()
        self._waiting: deque[str] = deque()
        jobs.add_finished_listener(self._finished)

    def submit(self, projects: list[Project]) -> BatchResult:
        result = BatchResult()
        for project in projects:
            with self._lock:
                runs_now = len(self._active) < self.limit
                if runs_now:
                    self._active.add(project.id)  # hold the slot while reserving
            # Only a snapshot that really waits says "Queued".
            message = None if runs_now else QUEUED_MESSAGE
            try:
                snapshot_id = self._jobs.reserve(project, message, queued=not runs_now)
            except SnapshotConflict as exc:
                if runs_now:
                    with self._lock:
                        self._active.discard(project.id)
                result.errors.append({"projectId": project.id, "detail": str(exc)})
                continue
            item = {"projectId": project.id, "snapshotId": snapshot_id}
            if runs_now:
                result.started.append(item)
                self._jobs.launch(project.id)
            else:
                with self._lock:
                    self._waiting.append(project.id)
                result.queued.append(item)
        # A slot may have freed while reserving: start what can start.
        self._fill()
        return result

    def _finished(self, record: SnapshotRecord) -> None:
        with self._lock:
            if record.project_id in self._waiting:  # cancelled while queued
                self._waiting.remove(record.project_id)
                return
            if record.project_id not in self._active:
                return
            self._active.discard(record.project_id)
        self._fill()

    def _fill(self) -> None:
        while True:
            with self._lock:
                if not self._waiting or len(self._active) >= self.limit:
                    return
                project_id = self._waiting.popleft()
                self._active.add(project_id)
            if not self._jobs.launch(project_id):  # no longer reserved
                with self._lock:
                    self._active.discard(project_id)

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._active)
