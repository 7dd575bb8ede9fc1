"""What the agent does at start-up about the previous run: continue event ids and
fail the snapshots that a crash or a kill interrupted."""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path
from typing import Protocol

from vidsync.clock import Clock
from vidsync.models import ProgressEvent, SnapshotRecord, SnapshotState, Step
from vidsync.progress.tracker import ProgressTracker
from vidsync.snapshot.jobs import INTERRUPTED
from vidsync.snapshot.manifest import MANIFEST_SUFFIX
from vidsync.storage.base import StorageError, Store

log = logging.getLogger(__name__)




class History(Protocol):
    def last_event_ids(self) -> dict[str, int]: ...

    def last_global_id(self) -> int: ...

    def recent_events(self, project_id: str, limit: int) -> list[ProgressEvent]: ...

    def running_snapshots(self) -> list[SnapshotRecord]: ...

    def save_snapshot(self, record: SnapshotRecord) -> None: ...


def restore_progress(history: History, tracker: ProgressTracker) -> None:
    """Continue event ids where the journal ends, so no id is ever issued twice."""
    tracker.restore_global(history.last_global_id())
    for project_id, last_id in history.last_event_ids().items():
        tracker.restore(project_id, last_id, history.recent_events(project_id, tracker.ring_size))


def recover(
    history: History, tracker: ProgressTracker, store: Store, work_dir: Path, clock: Clock
) -> list[SnapshotRecord]:
    """Restore progress state and fail interrupted snapshots; returns those."""
    restore_progress(history, tracker)
    interrupted = history.running_snapshots()
    for record in interrupted:
        # A manifest that made it to the store before the kill was never confirmed:
        # never publish it.
        with contextlib.suppress(StorageError, OSError):
            store.delete(store.url_for(f"{record.project_id}/{record.id}{MANIFEST_SUFFIX}"))
        record.state = SnapshotState.FAILED
        record.error = INTERRUPTED
        record.finished_at = clock.time()
        record.manifest_url = None
        history.save_snapshot(record)
        last = tracker.current(record.project_id)
        same = last is not None and last.snapshot_id == record.id
        tracker.publish(
            ProgressEvent(
                project_id=record.project_id,
                snapshot_id=record.id,
                step=Step.FAILED,
                step_number=last.step_number if same and last else 1,
                progress=last.progress if same and last else 0,
                message="Failed to generate snapshot",
                timestamp=0.0,
                file_count=last.file_count if same and last else None,
                total_bytes=last.total_bytes if same and last else None,
                error=INTERRUPTED,
            )
        )
        log.warning("snapshot %s of %s was interrupted", record.id, record.project_id)
    # Spools and manifests of interrupted runs.
    if work_dir.exists():
        for child in work_dir.iterdir():
            shutil.rmtree(child, ignore_errors=True)
    return interrupted
