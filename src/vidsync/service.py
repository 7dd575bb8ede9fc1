"""The agent's use-cases: create and delete projects; start, cancel and batch
snapshots. The HTTP routes and the in-process CLI both call this module; it
raises the domain errors of :mod:`vidsync.errors`, never HTTP ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vidsync.clock import Clock, SystemClock
from vidsync.errors import Conflict, InvalidInput, NotFound, Unavailable, clip
from vidsync.models import Project, SnapshotRecord, SnapshotState, SourceKind, new_project_id
from vidsync.owners import is_alive, this_process
from vidsync.progress.bus import ProgressBus, open_bus
from vidsync.progress.siblings import SiblingTail
from vidsync.progress.tracker import ProgressTracker
from vidsync.settings import Settings
from vidsync.snapshot.batch import BatchResult, BatchRunner, SharedSlots
from vidsync.snapshot.jobs import Jobs, SnapshotConflict
from vidsync.snapshot.local import LocalSource, check_folder
from vidsync.snapshot.pipeline import SnapshotJob, SnapshotResult, run_snapshot
from vidsync.snapshot.recovery import (
    fail_orphans,
    recover,
    restore_progress,
    resume_interrupted,
)
from vidsync.snapshot.source import Source, SourceError, SourceUnavailable
from vidsync.storage import open_store
from vidsync.storage.base import StorageError, Store
from vidsync.store.db import Database

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from vidsync.snapshot.syncthing.service import SyncthingService

PROJECT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SNAPSHOT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,95}$")
# Longest localPath accepted (Linux PATH_MAX).
MAX_PATH_LENGTH = 4096


class SourceFactory:
    """Builds each project's Source, and tells Syncthing about new and deleted projects."""

    def __init__(self, settings: Settings, clock: Clock, walk_nice: int = 0) -> None:
        self.settings = settings
        self.clock = clock
        # Walks forked from the agent's server run below it (VIDSYNC_SNAPSHOT_NICE).
        self.walk_nice = walk_nice
        self._syncthing: SyncthingService | None = None

    @property
    def syncthing(self) -> SyncthingService:
        if self._syncthing is None:
            # Here, not at import: the CLI's one-shot local snapshot never loads httpx.
            from vidsync.snapshot.syncthing.service import SyncthingService

            self._syncthing = SyncthingService(self.settings)
        return self._syncthing

    def stop(self) -> None:
        if self._syncthing is not None:
            self._syncthing.stop()

    def register(self, project: Project) -> None:
        if project.source is SourceKind.SYNCTHING:
            self.syncthing.register(project.id, Path(project.local_path), project.name)

    def unregister(self, project: Project) -> None:
        if project.source is SourceKind.SYNCTHING:
            self.syncthing.unregister(project.id)

    def __call__(self, project: Project) -> Source:
        if project.source is SourceKind.SYNCTHING:
            return self.syncthing.source(project.id, Path(project.local_path), self.clock,
                                         self.walk_nice)
        return LocalSource(Path(project.local_path), nice=self.walk_nice)


def _source_error(exc: SourceError, what: str = "", field: str | None = "source") -> Exception:
    text = f"{what}{exc}"
    if isinstance(exc, SourceUnavailable):
        return Unavailable(text)
    return InvalidInput(text, field)


def check_project_path(raw: str) -> Path:
    """The folder ``raw`` names, resolved to its real path; InvalidInput says what is wrong."""
    text = raw.strip()
    if not text:
        raise InvalidInput("localPath is empty: give the absolute path of a folder", "localPath")
    if len(text) > MAX_PATH_LENGTH:
        raise InvalidInput(
            f"localPath is {len(text):,} characters long; paths are at most "
            f"{MAX_PATH_LENGTH} characters",
            "localPath",
        )
    if "\x00" in text:
        raise InvalidInput("localPath contains a NUL character", "localPath")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            "localPath is not valid Unicode (it contains a lone surrogate): send the path as "
            "UTF-8 text",
            "localPath",
        ) from None
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        raise InvalidInput(f"localPath {clip(text)!r} is not an absolute path", "localPath")
    try:
        check_folder(path)  # the same check the snapshot's first step makes
    except SourceError as exc:
        raise InvalidInput(clip(str(exc), 300), "localPath") from None
    # The real path is the folder's identity: a symlink to a project's folder is that project.
    return Path(os.path.realpath(path))


@dataclass
class Service:
    settings: Settings
    clock: Clock
    db: Database
    tracker: ProgressTracker
    store: Store
    jobs: Jobs
    sources: SourceFactory
    batch: BatchRunner
    # Other agents on the same Redis (the team view); a no-op bus with "memory".
    bus: ProgressBus
    # Snapshots the previous run left running (failed as interrupted at start-up).
    interrupted: list[SnapshotRecord] = field(default_factory=list)
    # This process's token on the running snapshots it owns (vidsync.owners).
    owner: str = field(default_factory=this_process)
    # With several serving processes: follows the siblings' events, cancels, exits.
    siblings: SiblingTail | None = None
    # The last project deletion (``Database.deleted_after``) this process has forgotten.
    deletions_seen: int = 0

    # -- lookups -------------------------------------------------------------

    def project(self, project_id: str) -> Project:
        """The project, or NotFound (also for ids that cannot exist)."""
        project = self.db.get_project(project_id) if PROJECT_ID_RE.match(project_id) else None
        if project is None:
            raise NotFound(f"no project with id {clip(project_id, 80)!r}")
        return project

    def snapshot(self, project: Project, snapshot_id: str) -> SnapshotRecord:
        record = None
        if SNAPSHOT_ID_RE.match(snapshot_id):
            record = self.db.get_snapshot(project.id, snapshot_id)
        if record is None:
            raise NotFound(f"no snapshot {clip(snapshot_id, 100)!r} in project {project.id}")
        return record

    def latest_completed(self, project: Project) -> SnapshotRecord:
        record = self.db.latest_completed_snapshot(project.id)
        if record is None:
            raise NotFound(f"project {project.id} has no completed snapshot yet: take one first")
        return record

    @staticmethod
    def manifest_url(record: SnapshotRecord) -> str:
        if record.state is not SnapshotState.COMPLETED or not record.manifest_url:
            raise Conflict(
                f"snapshot {record.id} is {record.state.value}: it has no manifest to read"
            )
        return record.manifest_url

    def project_with_path(self, path: Path) -> Project | None:
        """The project whose folder is ``path`` (compared by real path), if any."""
        found = self.db.find_project_by_path(str(path))
        if found is not None:
            return found
        real = os.path.realpath(path)
        for project in self.db.list_projects():
            if os.path.realpath(project.local_path) == real:
                return project
        return None

    # -- use-cases -----------------------------------------------------------

    def create_project(
        self, local_path: str, name: str | None = None, source: SourceKind = SourceKind.LOCAL
    ) -> Project:
        path = check_project_path(local_path)
        existing = self.project_with_path(path)
        if existing is not None:
            raise Conflict(
                f"{path} is already the folder of project {existing.name!r} ({existing.id})",
                "localPath",
                projectId=existing.id,
            )
        project = Project(
            id=new_project_id(),
            name=(name or "").strip() or path.name or str(path),
            local_path=str(path),
            source=source,
            created_at=self.clock.time(),
        )
        try:
            self.sources.register(project)
        except SourceError as exc:
            raise _source_error(exc) from None
        self.db.add_project(project)
        return project

    def delete_project(self, project: Project, timeout: float = 10.0) -> None:
        if self.jobs.cancel(project.id) is None and self._cancel_elsewhere(project.id):
            deadline = time.monotonic() + timeout
            while self._running_elsewhere(project.id) and time.monotonic() < deadline:
                time.sleep(0.05)  # the owner records the cancel within milliseconds
        if not self.jobs.wait(project.id, timeout=timeout) or self._running_elsewhere(project.id):
            # Deleting now would lose the snapshot's record and orphan its manifest.
            raise Conflict(f"the snapshot of project {project.id} is still stopping: try again")
        try:
            self.sources.unregister(project)
        except SourceError as exc:
            raise _source_error(exc, "cannot remove the folder from Syncthing: ", None) from None
        manifests = [r.manifest_url for r in self.db.list_snapshots(project.id, limit=-1)
                     if r.manifest_url]
        self.db.delete_project(project.id, self.clock.time())
        self.tracker.forget(project.id)  # siblings: ``_forget_deleted``
        if manifests:  # nothing can reach them any more; S3 may take a while
            threading.Thread(target=self._delete_manifests, args=(project.id, manifests),
                             name=f"delete-{project.id}", daemon=True).start()

    def _delete_manifests(self, project_id: str, urls: list[str]) -> None:
        failed: list[str] = []
        for url in urls:
            try:
                self.store.delete(url)
            except StorageError as exc:
                failed.append(str(exc))
        if failed:
            log.warning("project %s is deleted, but %d of its %d stored manifests are not "
                        "(delete them by hand): %s", project_id, len(failed), len(urls),
                        failed[-1])

    def start_snapshot(self, project: Project) -> str:
        """Start a snapshot in the background; returns its id (Conflict if one runs)."""
        try:
            return self.jobs.start(project)
        except SnapshotConflict as exc:
            raise Conflict(str(exc), snapshotId=exc.snapshot_id) from None

    def cancel_snapshot(self, project: Project) -> str:
        snapshot_id = self.jobs.cancel(project.id) or self._cancel_elsewhere(project.id)
        if snapshot_id is None:
            raise Conflict(f"no snapshot of project {project.id} is running")
        return snapshot_id

    # -- several serving processes ------------------------------------------------

    def _cancel_elsewhere(self, project_id: str) -> str | None:
        """A snapshot a sibling serving process runs: ask it to cancel it (it
        notices within milliseconds, ``_serve_cancel_requests``); its id, or None.
        (A one-shot CLI snapshot beside the agent watches no requests: 409.)"""
        if not self._running_elsewhere(project_id):
            return None
        return self.db.request_cancel(project_id)

    def _running_elsewhere(self, project_id: str) -> bool:
        """Whether a live sibling serving process runs a snapshot of the project."""
        if self.settings.workers <= 1:
            return False
        return any(r.project_id == project_id and owner != self.owner and is_alive(owner)
                   for r, owner, _ in self.db.running_owned())

    def _serve_cancel_requests(self) -> None:
        """Cancel the snapshots this process runs that a sibling was asked to cancel."""
        for record, owner, requested in self.db.running_owned():
            if requested and owner == self.owner and (
                self.jobs.running(record.project_id) == record.id
            ):
                self.jobs.cancel(record.project_id)

    def _fail_orphans(self) -> None:
        """Fail the snapshots of a sibling process that died (its replacement may be slow)."""
        fail_orphans(self.db, self.tracker, self.store, self.clock)
        self.batch.fill()  # a dead process's batch slots are free

    def _sibling_changed(self) -> None:
        """A sibling process committed: act on cancels asked of this process, forget
        the projects it deleted, and start queued batch snapshots if a slot freed."""
        self._serve_cancel_requests()
        self._forget_deleted()
        self.batch.fill()

    def _forget_deleted(self) -> None:
        """Forget the projects a sibling deleted: from now on this process answers
        as if they had never existed (no current state, no replay, no late event)."""
        for seq, project_id in self.db.deleted_after(self.deletions_seen):
            self.tracker.forget(project_id)
            self.deletions_seen = seq

    def start_siblings(self) -> None:
        """Follow the processes that share this data directory (``VIDSYNC_WORKERS`` > 1)."""
        if self.settings.workers <= 1 or self.siblings is not None:
            return
        self.siblings = SiblingTail(
            Database(self.settings.database_path),
            self.tracker,
            on_change=self._sibling_changed,
            periodic=self._fail_orphans,
        )
        self.siblings.start()

    def batch_snapshots(self, project_ids: list[str]) -> BatchResult:
        """Start snapshots of several projects; unknown ids are reported, the others start."""
        projects: list[Project] = []
        unknown: list[dict[str, str]] = []
        for project_id in dict.fromkeys(project_ids):
            try:
                projects.append(self.project(project_id))
            except NotFound as exc:
                unknown.append({"projectId": clip(project_id, 80), "detail": exc.message})
        result = self.batch.submit(projects)
        result.errors[:0] = unknown
        return result

    def resume_interrupted(self) -> list[str]:
        """Start the snapshots a kill interrupted again, once (``VIDSYNC_RESUME_INTERRUPTED``)."""
        return resume_interrupted(self.db, self.jobs, self.interrupted)

    def close(self) -> None:
        if self.siblings is not None:
            self.siblings.stop()
        self.jobs.shutdown()
        self.sources.stop()
        self.db.close()


def _process_runner(
    settings: Settings, tracker: ProgressTracker
) -> Callable[[SnapshotJob], SnapshotResult]:
    # Here, not at import: the CLI's one-shot snapshot never loads multiprocessing.
    from vidsync.snapshot.process import ProcessRunner

    return ProcessRunner(settings, tracker.publish)


def build_service(
    settings: Settings, clock: Clock | None = None, *, serving: bool = True
) -> Service:
    """Wire the concrete parts. Event ids always continue from the journal.

    ``serving`` is the long-running agent: it fails the snapshots a crash
    interrupted, runs local snapshots in a worker process and joins the team
    bus. A one-shot CLI snapshot (maybe beside a running agent) does none of that.
    """
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_path)
    tracker = ProgressTracker(
        buffer_size=settings.progress_buffer_size,
        ring_size=settings.progress_ring_size,
        retention=settings.progress_retention,
        clock=clock,
        # Ids come from the journal, shared by every process using this data directory.
        allocate=db.journal_event,
        agent=settings.agent_name,
    )
    store = open_store(settings)
    sources = SourceFactory(settings, clock, settings.snapshot_nice if serving else 0)
    in_process = serving and settings.snapshot_process
    jobs = Jobs(
        tracker=tracker,
        log=db,
        store=store,
        work_dir=settings.work_dir,
        source_for=sources,
        clock=clock,
        throttle=settings.throttle,
        runner=_process_runner(settings, tracker) if in_process else run_snapshot,
        claim=functools.partial(db.claim_snapshot, owner=this_process(), alive=is_alive),
    )
    interrupted: list[SnapshotRecord] = []
    # Deletions before this are known from the journal's restore (deleted projects keep no state).
    deletions_seen = db.last_deletion()
    if serving:
        # One process at a time: sibling workers start together and must not both
        # announce the same unannounced outcome.
        with _startup_lock(settings.data_dir):
            interrupted = recover(db, tracker, store, settings.work_dir, clock)

        def compact(_: SnapshotRecord | None = None) -> None:
            try:
                db.compact_events(clock.time() - settings.progress_retention)
            except sqlite3.Error:  # the log stays longer; nothing else depends on it
                log.exception("cannot thin the progress log")

        compact()
        jobs.add_finished_listener(compact)
    else:
        restore_progress(db, tracker)
    # The limit is agent-wide: slots in the database every serving process shares.
    slots = SharedSlots(db, this_process(), settings.batch_concurrency, is_alive)
    batch = BatchRunner(jobs, settings.batch_concurrency, slots)
    bus = open_bus(
        settings.progress_bus if serving else "memory",
        tracker,
        name=settings.agent_name,
        agent_url=settings.agent_url,
        clock=clock.time,
        retention=settings.progress_retention,
        heartbeat=settings.agent_heartbeat,
    )
    return Service(settings, clock, db, tracker, store, jobs, sources, batch, bus, interrupted,
                   deletions_seen=deletions_seen)


@contextlib.contextmanager
def _startup_lock(data_dir: Path) -> Iterator[None]:
    with open(data_dir / "startup.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
