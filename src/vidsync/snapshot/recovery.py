"""What the agent does at start-up about the previous run: continue event ids and
fail the snapshots that a crash or a kill interrupted."""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from vidsync.clock import Clock
from vidsync.models import INTERRUPTED, ProgressEvent, Project, SnapshotRecord, SnapshotState, Step
from vidsync.owners import is_alive
from vidsync.progress.tracker import ProgressTracker
from vidsync.snapshot.jobs import Jobs, SnapshotConflict
from vidsync.snapshot.manifest import MANIFEST_SUFFIX
from vidsync.storage.base import StorageError, Store

log = logging.getLogger(__name__)


class History(Protocol):
    def last_event_ids(self) -> dict[str, int]: ...

    def last_global_id(self) -> int: ...

    def events_after(self, global_id: int, limit: int = 1000) -> list[ProgressEvent]: ...

    def recent_events(self, project_id: str, limit: int) -> list[ProgressEvent]: ...

    def running_snapshots(self) -> list[SnapshotRecord]: ...

    def running_owned(self) -> list[tuple[SnapshotRecord, str | None, bool]]: ...

    def fail_orphan(self, record: SnapshotRecord, owner: str | None) -> bool: ...

    def owner_of(self, snapshot_id: str) -> str | None: ...

    def get_snapshot(self, project_id: str, snapshot_id: str) -> SnapshotRecord | None: ...

    def get_project(self, project_id: str) -> Project | None: ...

    def list_projects(self) -> list[Project]: ...

    def save_snapshot(self, record: SnapshotRecord) -> None: ...


Alive = Callable[[str | None], bool]


def restore_progress(history: History, tracker: ProgressTracker) -> dict[str, int]:
    """Continue event ids where the journal ends, so no id is ever issued twice;
    returns each project's last event id. A deleted project keeps only its ids."""
    last_global = history.last_global_id()
    keep = tracker.ring_size
    tracker.restore_global(last_global, history.events_after(max(0, last_global - keep), keep))
    last_ids = history.last_event_ids()
    existing = {project.id for project in history.list_projects()}
    for project_id, last_id in last_ids.items():
        if project_id in existing:
            recent = history.recent_events(project_id, tracker.ring_size)
            tracker.restore(project_id, last_id, recent)
        else:
            tracker.restore(project_id, last_id, [])
            tracker.forget(project_id)
    return last_ids


def recover(
    history: History,
    tracker: ProgressTracker,
    store: Store,
    work_dir: Path,
    clock: Clock,
    alive: Alive = is_alive,
) -> list[SnapshotRecord]:
    """Restore progress state and fail interrupted snapshots; returns those.

    The pipeline saves a snapshot's record before it publishes the terminal
    event, so a record still ``running`` was never announced as completed: its
    manifest, even if the upload went through, is one no client was told of,
    and is deleted. A completed record keeps its manifest; if the kill came
    between that record and its event, the event is published now.

    A snapshot whose owner process still runs (a sibling serving process, a
    one-shot CLI snapshot) is left alone.
    """
    last_ids = restore_progress(history, tracker)
    interrupted = fail_orphans(history, tracker, store, clock, alive)
    for project_id in last_ids:
        _announce_unannounced(history, tracker, project_id, alive)
    # Spools and manifests of interrupted runs (not those of snapshots still running).
    if work_dir.exists():
        busy = {r.id for r, owner, _ in history.running_owned() if alive(owner)}
        for child in work_dir.iterdir():
            if child.name not in busy:
                shutil.rmtree(child, ignore_errors=True)
    return interrupted


def fail_orphans(
    history: History, tracker: ProgressTracker, store: Store, clock: Clock, alive: Alive = is_alive
) -> list[SnapshotRecord]:
    """Fail, as interrupted, the running snapshots whose owner process is gone.

    Several processes may find the same orphan at once: the record's
    conditional update lets exactly one of them publish its end.
    """
    failed = []
    for record, owner, _ in history.running_owned():
        if alive(owner):
            continue
        record.state = SnapshotState.FAILED
        record.error = INTERRUPTED
        record.finished_at = clock.time()
        record.manifest_url = None
        if not history.fail_orphan(record, owner):
            continue
        with contextlib.suppress(StorageError, OSError):
            store.delete(store.url_for(f"{record.project_id}/{record.id}{MANIFEST_SUFFIX}"))
        tracker.publish(_terminal_event(record, _last(history, record.project_id, record.id)))
        log.warning("snapshot %s of %s was interrupted", record.id, record.project_id)
        failed.append(record)
    return failed


def _last(history: History, project_id: str, snapshot_id: str) -> ProgressEvent | None:
    recent = history.recent_events(project_id, 1)
    return recent[0] if recent and recent[0].snapshot_id == snapshot_id else None


def _announce_unannounced(
    history: History, tracker: ProgressTracker, project_id: str, alive: Alive
) -> None:
    """Publish the outcome of a snapshot whose record ended but whose event never went out
    (unless its owner still runs: it is about to)."""
    recent = history.recent_events(project_id, 1)
    if not recent or recent[0].terminal or recent[0].snapshot_id is None:
        return
    record = history.get_snapshot(project_id, recent[0].snapshot_id)
    if record is None or record.state is SnapshotState.RUNNING:
        return
    if alive(history.owner_of(record.id)):
        return
    tracker.publish(_terminal_event(record, recent[0]))
    log.warning("published the %s outcome of snapshot %s after a restart",
                record.state.value, record.id)


def _terminal_event(record: SnapshotRecord, last: ProgressEvent | None) -> ProgressEvent:
    """The terminal event that matches a finished record."""
    step = {
        SnapshotState.COMPLETED: Step.COMPLETED,
        SnapshotState.CANCELLED: Step.CANCELLED,
    }.get(record.state, Step.FAILED)
    message = {
        Step.COMPLETED: "Snapshot generated successfully!",
        Step.CANCELLED: "Snapshot cancelled by user",
    }.get(step, "Failed to generate snapshot")
    return ProgressEvent(
        project_id=record.project_id,
        snapshot_id=record.id,
        step=step,
        step_number=6 if step is Step.COMPLETED else (last.step_number if last else 1),
        progress=100 if step is Step.COMPLETED else (last.progress if last else 0),
        message=message,
        timestamp=0.0,
        file_count=record.file_count if record.file_count is not None else (
            last.file_count if last else None),
        total_bytes=record.total_bytes if record.total_bytes is not None else (
            last.total_bytes if last else None),
        snapshot_url=record.manifest_url if step is Step.COMPLETED else None,
        error=record.error if step is Step.FAILED else None,
        skipped_count=record.skipped_count,
        skipped=record.skipped,
    )


def resume_interrupted(
    history: History, jobs: Jobs, interrupted: list[SnapshotRecord]
) -> list[str]:
    """``VIDSYNC_RESUME_INTERRUPTED``: start each interrupted snapshot again, once.

    A snapshot that was itself such a restart is not restarted again, so an
    agent that keeps getting killed does not loop. Returns the new snapshot ids.
    """
    started = []
    for record in interrupted:
        if record.resume_of is not None:
            continue
        project = history.get_project(record.project_id)
        if project is None:
            continue
        try:
            snapshot_id = jobs.reserve(
                project, f"Restarting interrupted snapshot {record.id}...", resume_of=record.id
            )
        except SnapshotConflict:
            continue
        jobs.launch(project.id)
        log.warning("restarting interrupted snapshot %s of %s as %s",
                    record.id, project.id, snapshot_id)
        started.append(snapshot_id)
    return started
