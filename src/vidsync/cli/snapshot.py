"""``vidsync snapshot PATH``: the pipeline in this process, drawn as it runs."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from vidsync.cli.view import EXIT_USAGE, JsonLines, ProgressView, finish
from vidsync.clock import SystemClock
from vidsync.models import (
    ProgressEvent,
    Project,
    SnapshotRecord,
    SnapshotState,
    SourceKind,
    new_project_id,
)
from vidsync.progress.expected import Expected, expected_for
from vidsync.progress.reporter import SnapshotReporter
from vidsync.progress.tracker import ProgressTracker
from vidsync.settings import Settings
from vidsync.snapshot.jobs import new_snapshot_id
from vidsync.snapshot.local import LocalSource, check_folder
from vidsync.snapshot.pipeline import SnapshotJob, SnapshotResult, run_snapshot
from vidsync.snapshot.source import CancelToken, SourceError
from vidsync.storage import Store, open_store
from vidsync.store.db import Database


def snapshot_in_process(settings: Settings, path: Path, *, json_lines: bool) -> int:
    path = Path(os.path.normpath(path.expanduser().absolute()))
    try:
        check_folder(path)
    except SourceError as exc:
        print(f"vidsync: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Before any record is written: a bad VIDSYNC_STORAGE_URL must not leave a
    # snapshot marked running.
    store = open_store(settings)
    clock = SystemClock()
    db = Database(settings.database_path)
    try:
        project = db.find_project_by_path(str(path))
        if project is None:
            project = Project(new_project_id(), path.name or str(path), str(path),
                              SourceKind.LOCAL, clock.time())
            db.add_project(project)
        snapshot_id = new_snapshot_id(clock)
        record = SnapshotRecord(snapshot_id, project.id, SnapshotState.RUNNING, clock.time())
        db.save_snapshot(record)
        expected = expected_for(db, project.id)  # last time's counts and step times
        result, last = _run(settings, store, project, snapshot_id, path, json_lines, expected)
        result.apply_to(record, clock.time())
        db.save_snapshot(record)
    finally:
        db.close()
    return finish(last)


def _run(
    settings: Settings,
    store: Store,
    project: Project,
    snapshot_id: str,
    path: Path,
    json_lines: bool,
    expected: Expected | None = None,
) -> tuple[SnapshotResult, ProgressEvent | None]:
    tracker = ProgressTracker(buffer_size=settings.progress_buffer_size)
    view = JsonLines() if json_lines else ProgressView()
    tracker.add_listener(view.update)
    cancel = CancelToken()
    job = SnapshotJob(
        project_id=project.id,
        snapshot_id=snapshot_id,
        source=LocalSource(path),
        store=store,
        reporter=SnapshotReporter(tracker.publish, project.id, snapshot_id, expected=expected),
        work_dir=settings.work_dir,
        cancel=cancel,
        waiting_message="Checking project folder...",
        throttle=settings.throttle,
    )
    outcome: list[SnapshotResult] = []
    worker = threading.Thread(target=lambda: outcome.append(run_snapshot(job)), daemon=True)
    with view:
        worker.start()
        while worker.is_alive():
            try:
                worker.join(0.2)
            except KeyboardInterrupt:
                cancel.cancel()
    return outcome[0], tracker.current(project.id)
