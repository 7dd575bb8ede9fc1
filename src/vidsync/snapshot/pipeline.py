"""The snapshot pipeline: the six steps, reported through a reporter it does not own.

Runs in a worker thread; knows nothing of HTTP, SQLite or the terminal.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vidsync.clock import Clock, SystemClock
from vidsync.crashpoints import crash_point
from vidsync.models import SnapshotRecord, SnapshotState, human_size
from vidsync.progress.reporter import SnapshotReporter
from vidsync.snapshot.manifest import (
    MANIFEST_SUFFIX,
    EntrySpool,
    ManifestHeader,
    write_manifest,
)
from vidsync.snapshot.source import CancelToken, SnapshotCancelled, Source, SourceError
from vidsync.storage.base import UPLOADING_MESSAGE, StorageError, Store, UploadRetry

log = logging.getLogger(__name__)

WAITING_MESSAGES = {
    "syncthing": "Waiting for Syncthing scan...",
    "local": "Checking project folder...",
}


@dataclass
class SnapshotResult:
    state: SnapshotState
    snapshot_url: str | None = None
    error: str | None = None
    file_count: int | None = None
    directory_count: int | None = None
    total_bytes: int | None = None
    skipped_count: int | None = None
    manifest_bytes: int | None = None
    skipped: dict[str, int] | None = None
    # The first (kind, path) pairs left out; bounded by the source's SkipLog.
    skipped_paths: list[tuple[str, str]] = field(default_factory=list)

    def apply_to(self, record: SnapshotRecord, finished_at: float) -> None:
        """Write the outcome into the snapshot's history record."""
        record.state = self.state
        record.finished_at = finished_at
        record.error = self.error
        record.file_count = self.file_count
        record.directory_count = self.directory_count
        record.total_bytes = self.total_bytes
        record.skipped_count = self.skipped_count
        record.manifest_url = self.snapshot_url
        record.manifest_bytes = self.manifest_bytes
        record.skipped = self.skipped


@dataclass
class SnapshotJob:
    project_id: str
    snapshot_id: str
    source: Source
    store: Store
    reporter: SnapshotReporter
    work_dir: Path
    cancel: CancelToken = field(default_factory=CancelToken)
    waiting_message: str = "Waiting..."
    # Seconds slept per file browsed: tests and demos only; 0 never sleeps.
    throttle: float = 0.0
    clock: Clock = field(default_factory=SystemClock)
    # Makes the outcome durable (the history record); called before the terminal event.
    persist: Callable[[SnapshotResult], None] | None = None

    @property
    def key(self) -> str:
        return f"{self.project_id}/{self.snapshot_id}{MANIFEST_SUFFIX}"


def run_snapshot(job: SnapshotJob) -> SnapshotResult:
    """Run every step; always ends with exactly one terminal event and a result.

    The outcome is made durable (``job.persist``) before the terminal event is
    published, so no client is ever told ``completed`` about a snapshot that a
    crash could still take back.
    """
    work = job.work_dir / job.snapshot_id
    result = SnapshotResult(state=SnapshotState.FAILED)
    try:
        work.mkdir(parents=True, exist_ok=True)
        _run_steps(job, work, result)
        result.state = SnapshotState.COMPLETED
        assert result.snapshot_url is not None
    except SnapshotCancelled:
        if job.cancel.reason:
            result.error = job.cancel.reason
        else:
            result.state = SnapshotState.CANCELLED
    except (SourceError, StorageError) as exc:
        result.error = str(exc)
    except OSError as exc:
        result.error = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
    except Exception as exc:
        log.exception("snapshot %s of %s failed", job.snapshot_id, job.project_id)
        result.error = f"internal error: {type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _persist(job, result)
    _announce(job, result)
    return result


def _persist(job: SnapshotJob, result: SnapshotResult) -> None:
    if job.persist is None:
        return
    try:
        job.persist(result)
    except Exception as exc:
        log.exception("cannot record snapshot %s of %s", job.snapshot_id, job.project_id)
        if result.state is not SnapshotState.COMPLETED:
            return
        # Not durable, so not completed: drop the manifest nothing points to.
        if result.snapshot_url:
            with contextlib.suppress(Exception):
                job.store.delete(result.snapshot_url)
        result.state, result.snapshot_url = SnapshotState.FAILED, None
        result.error = f"cannot record the snapshot: {exc}"
        with contextlib.suppress(Exception):
            job.persist(result)


def _announce(job: SnapshotJob, result: SnapshotResult) -> None:
    rep = job.reporter
    rep.set_skipped(result.skipped_count, result.skipped)
    if result.state is SnapshotState.COMPLETED:
        assert result.snapshot_url is not None
        crash_point("after-record")
        rep.complete(result.snapshot_url)
        crash_point("after-publish")
    elif result.state is SnapshotState.CANCELLED:
        rep.cancelled()
    else:
        rep.fail(result.error or "unknown error")


def _run_steps(job: SnapshotJob, work: Path, result: SnapshotResult) -> None:
    rep, cancel, source = job.reporter, job.cancel, job.source
    created_at = job.clock.time()

    if rep.step_number != 1:  # the job manager may have announced step 1 already
        rep.start_step(1, job.waiting_message)
    source.wait_ready(rep, cancel)
    cancel.check()

    rep.start_step(2, "Getting folder status...")
    status = source.status(rep, cancel)
    cancel.check()

    expected = None
    if status.file_count is not None:
        expected = status.file_count + (status.directory_count or 0)
    rep.set_counts(status.file_count, status.total_bytes)
    rep.start_step(3, "Browsing files...", total=expected)
    spool = EntrySpool(work / "entries.jsonl")
    try:
        # A source that can walk in parallel fills the spool itself (the local walk);
        # a throttled run (tests, demos) goes entry by entry.
        fill = getattr(source, "fill_spool", None)
        if fill is None or job.throttle or not fill(spool, work, rep, cancel):
            for entry in source.entries(rep, cancel):
                spool.add(entry)
                if job.throttle and cancel.wait(job.throttle):
                    break
        cancel.check()
    finally:
        spool.close()
    # A walk that ends normally may still have raced the folder's removal.
    source.check_root()
    result.file_count = spool.file_count
    result.directory_count = spool.directory_count
    result.total_bytes = spool.total_bytes
    result.skipped_count = source.skipped
    result.skipped = source.skips.by_kind()
    result.skipped_paths = list(source.skips.paths)
    rep.set_counts(spool.file_count, spool.total_bytes)

    rep.start_step(
        4,
        f"Processing {spool.file_count} files ({human_size(spool.total_bytes)} total)...",
        total=spool.entry_count,
    )
    header = ManifestHeader(
        project_id=job.project_id,
        snapshot_id=job.snapshot_id,
        created_at=created_at,
        file_count=spool.file_count,
        directory_count=spool.directory_count,
        total_size=spool.total_bytes,
        skipped_count=source.skipped,
    )
    manifest = work / ("manifest" + MANIFEST_SUFFIX)

    def compressed(n: int) -> None:
        rep.advance(n)
        if job.throttle:
            cancel.wait(job.throttle)

    size = write_manifest(spool, header, manifest, compressed, cancel.check)
    for path in {spool.path, *(part.path for part in spool.parts)}:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    result.manifest_bytes = size
    cancel.check()
    source.check_root()

    rep.start_step(5, UPLOADING_MESSAGE, total=size)

    def retrying(retry: UploadRetry | None) -> None:
        rep.set_retry(retry, UPLOADING_MESSAGE if retry is None else retry.message)

    result.snapshot_url = job.store.put(job.key, manifest, rep.advance, cancel, retrying)
    crash_point("after-upload")
