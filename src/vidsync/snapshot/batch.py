"""Batch snapshots: many projects, at most ``limit`` of them running at once.

The limit is the agent's, not one process's: with ``vidsync serve --workers N``
the slots are rows of the shared database (``SharedSlots``), so the batches
sent to different processes share the same ``limit``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from vidsync.models import Project, SnapshotRecord
from vidsync.snapshot.jobs import Jobs, SnapshotConflict

QUEUED_MESSAGE = "Queued: waiting for a free batch slot..."


@dataclass
class BatchResult:
    started: list[dict[str, str]] = field(default_factory=list)
    queued: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


class Slots(Protocol):
    """Where the running batch snapshots hold their slots."""

    def take(self, project_id: str, snapshot_id: str | None) -> bool:
        """Hold a slot for the project's snapshot if one is free (``snapshot_id``
        None: not reserved yet, ``bind`` follows)."""
        ...

    def bind(self, project_id: str, snapshot_id: str) -> None: ...

    def release(self, project_id: str) -> None: ...


class LocalSlots:
    """Slots of this process alone (one process, unit tests)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._held: set[str] = set()

    def take(self, project_id: str, snapshot_id: str | None) -> bool:
        with self._lock:
            if len(self._held) >= self.limit or project_id in self._held:
                return False
            self._held.add(project_id)
            return True

    def bind(self, project_id: str, snapshot_id: str) -> None:
        pass

    def release(self, project_id: str) -> None:
        with self._lock:
            self._held.discard(project_id)


class SlotTable(Protocol):
    """The shared database's slots (``Database``)."""

    def take_batch_slot(
        self, project_id: str, snapshot_id: str | None, owner: str, limit: int,
        alive: Callable[[str | None], bool],
    ) -> bool: ...

    def bind_batch_slot(self, project_id: str, snapshot_id: str, owner: str) -> None: ...

    def release_batch_slot(self, project_id: str, owner: str) -> None: ...


class SharedSlots:
    """Slots shared by every process of one data directory: a slot is a row
    naming its owner process; a dead owner's rows are free again."""

    def __init__(
        self, table: SlotTable, owner: str, limit: int, alive: Callable[[str | None], bool]
    ) -> None:
        self._table = table
        self._owner = owner
        self._alive = alive
        self.limit = limit

    def take(self, project_id: str, snapshot_id: str | None) -> bool:
        return self._table.take_batch_slot(
            project_id, snapshot_id, self._owner, self.limit, self._alive)

    def bind(self, project_id: str, snapshot_id: str) -> None:
        self._table.bind_batch_slot(project_id, snapshot_id, self._owner)

    def release(self, project_id: str) -> None:
        self._table.release_batch_slot(project_id, self._owner)


class BatchRunner:
    """Every snapshot of a batch is reserved at once (its id and a "queued" event
    exist from the start, so clients can follow it); only ``limit`` run at a time,
    the next one starting when one ends (here, or in a sibling process: ``fill``)."""

    def __init__(self, jobs: Jobs, limit: int, slots: Slots | None = None) -> None:
        self._jobs = jobs
        self.limit = max(1, limit)
        self._slots: Slots = slots or LocalSlots(self.limit)
        self._lock = threading.Lock()
        self._fill_lock = threading.Lock()
        self._active: set[str] = set()  # projects whose slot this process holds
        self._waiting: deque[tuple[str, str]] = deque()  # (project id, snapshot id)
        jobs.add_finished_listener(self._finished)

    def submit(self, projects: list[Project]) -> BatchResult:
        result = BatchResult()
        for project in projects:
            runs_now = self._slots.take(project.id, None)  # hold it while reserving
            if runs_now:
                with self._lock:
                    self._active.add(project.id)
            # Only a snapshot that really waits says "Queued".
            message = None if runs_now else QUEUED_MESSAGE
            try:
                snapshot_id = self._jobs.reserve(project, message, queued=not runs_now)
            except BaseException as exc:
                if runs_now:
                    self._give_back(project.id)
                if not isinstance(exc, SnapshotConflict):
                    raise
                result.errors.append({"projectId": project.id, "detail": str(exc)})
                continue
            item = {"projectId": project.id, "snapshotId": snapshot_id}
            if runs_now:
                self._slots.bind(project.id, snapshot_id)
                result.started.append(item)
                self._jobs.launch(project.id)
            else:
                with self._lock:
                    self._waiting.append((project.id, snapshot_id))
                result.queued.append(item)
        # A slot may have freed while reserving: start what can start.
        self.fill()
        return result

    def _finished(self, record: SnapshotRecord) -> None:
        with self._lock:
            if (record.project_id, record.id) in self._waiting:  # cancelled while queued
                self._waiting.remove((record.project_id, record.id))
                return
            if record.project_id not in self._active:
                return
        self._give_back(record.project_id)
        self.fill()

    def _give_back(self, project_id: str) -> None:
        with self._lock:
            self._active.discard(project_id)
        self._slots.release(project_id)

    def fill(self) -> None:
        """Start queued snapshots while slots are free (call it when one may have freed)."""
        with self._lock:
            if not self._waiting:
                return
        with self._fill_lock:
            while True:
                with self._lock:
                    if not self._waiting:
                        return
                    project_id, snapshot_id = self._waiting[0]
                if not self._slots.take(project_id, snapshot_id):
                    return
                with self._lock:
                    still_waiting = bool(self._waiting) and self._waiting[0] == (
                        project_id, snapshot_id)
                    if still_waiting:
                        self._waiting.popleft()
                        self._active.add(project_id)
                if not still_waiting or not self._jobs.launch(project_id):  # cancelled
                    self._give_back(project_id)

    @property
    def active(self) -> int:
        """Batch snapshots running in this process."""
        with self._lock:
            return len(self._active)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)
