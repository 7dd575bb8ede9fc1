"""What the agent does at start-up about the previous run: continue event ids and
fail the snapshots that a crash or a kill interrupted."""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path
from typing import Protocol

from vidsync.clock import Clock
from vidsync.models import ProgressEvent, Project, SnapshotRecord, SnapshotState, Step
from vidsync.progress.tracker import ProgressTracker
from vidsync.snapshot.jobs import INTERRUPTED, Jobs, SnapshotConflict
from vidsync.snapshot.manifest import MANIFEST_SUFFIX
from vidsync.storage.base import StorageError, Store

log = logging.getLogger(__name__)


class History(Protocol):
    def last_event_ids(self) -> dict[str, int]: ...

    def last_global_id(self) -> int: ...

    def recent_events(self, project_id: str, limit: int) -> list[ProgressEvent]: ...

    def running_snapshots(self) -> list[SnapshotRecord]: ...

    def get_snapshot(self, project_id: str, snapshot_id: str) -> SnapshotRecord | None: ...

    def get_project(self, project_id: str) -> Project | None: ...

    def save_snapshot(self, record: SnapshotRecord) -> None: ...


def restore_progress(history: History, tracker: ProgressTracker) -> dict[str, int]:
    """Continue event ids where the journal ends, so no id is ever issued twice;
    returns each project's last event id."""
    tracker.restore_global(history.last_global_id())
    last_ids = history.last_event_ids()
    for project_id, last_id in last_ids.items():
        tracker.restore(project_id, last_id, history.recent_events(project_id, tracker.ring_size))
    return last_ids


def recover(
    history: History, tracker: ProgressTracker, store: Store, work_dir: Path, clock: Clock
) -> list[SnapshotRecord]:
    """Restore progress state and fail interrupted snapshots; returns those.

    The pipeline saves a snapshot's record before it publishes the terminal
    event, so a record still ``running`` was never announced as completed: its
    manifest, even if the upload went through, is one no client was told of,
    and is deleted. A completed record keeps its manifest; if the kill came
    between that record and its event, the event is published now.
    """
    last_ids = restore_progress(history, tracker)
    interrupted = history.running_snapshots()
    for record in interrupted:
        with contextlib.suppress(StorageError, OSError):
            store.delete(store.url_for(f"{record.project_id}/{record.id}{MANIFEST_SUFFIX}"))
        record.state = SnapshotState.FAILED
        record.error = INTERRUPTED
        record.finished_at = clock.time()
        record.manifest_url = None
        history.save_snapshot(record)
        tracker.publish(_terminal_event(record, _last(history, record.project_id, record.id)))
        log.warning("snapshot %s of %s was interrupted", record.id, record.project_id)
    for project_id in last_ids:
        _announce_unannounced(history, tracker, project_id)
    # Spools and manifests of interrupted runs.
    if work_dir.exists():
        for child in work_dir.iterdir():
            shutil.rmtree(child, ignore_errors=True)
    return interrupted


def _last(history: History, project_id: str, snapshot_id: str) -> ProgressEvent | None:
    recent = history.recent_events(project_id, 1)
    return recent[0] if recent and recent[0].snapshot_id == snapshot_id else None


def _announce_unannounced(history: History, tracker: ProgressTracker, project_id: str) -> None:
    """Publish the outcome of a snapshot whose record ended but whose event never went out."""
    recent = history.recent_events(project_id, 1)
    if not recent or recent[0].terminal or recent[0].snapshot_id is None:
        return
    record = history.get_snapshot(project_id, recent[0].snapshot_id)
    if record is None or record.state is SnapshotState.RUNNING:
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
