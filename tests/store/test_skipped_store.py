"""Skipped counts and paths in SQLite, including on a database from before them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vidsync.models import Project, SnapshotRecord, SnapshotState, SourceKind
from vidsync.store.db import Database

# The snapshots table as the first release created it.
OLD_SCHEMA = """
CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT NOT NULL, local_path TEXT NOT NULL,
    source TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE snapshots (id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    state TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL, file_count INTEGER,
    directory_count INTEGER, total_bytes INTEGER, skipped_count INTEGER, manifest_url TEXT,
    manifest_bytes INTEGER, error TEXT);
INSERT INTO projects VALUES ('proj-old', 'old', '/x', 'local', 1.0);
INSERT INTO snapshots VALUES ('snap-old', 'proj-old', 'completed', 1.0, 2.0, 3, 1, 10, 0,
    'file:///x.json.gz', 99, NULL);
"""


def test_an_existing_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "vidsync.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
    db = Database(path)
    try:
        old = db.get_snapshot("proj-old", "snap-old")
        assert old is not None and old.file_count == 3 and old.skipped is None
        assert old.to_json()["skipped"] is None
        old.skipped, old.skipped_count = {"vanished": 1, "unreadable": 0, "special": 0}, 1
        db.save_snapshot(old, [("vanished", "a/b.mov")])
        again = db.get_snapshot("proj-old", "snap-old")
        assert again is not None and again.skipped == old.skipped
        assert db.skipped_page("snap-old", 0, 10) == (1, [("vanished", "a/b.mov")])
    finally:
        db.close()
    Database(path).close()  # a second start finds the columns there


def test_skipped_paths_page_and_survive_a_later_save(tmp_path: Path) -> None:
    db = Database(tmp_path / "v.db")
    try:
        db.add_project(Project("proj-1", "p", "/p", SourceKind.LOCAL, 0.0))
        record = SnapshotRecord("snap-1", "proj-1", SnapshotState.RUNNING, 1.0)
        db.save_snapshot(record)
        paths = [("special", f"pipe{i}") for i in range(25)]
        record.state, record.skipped_count = SnapshotState.COMPLETED, 25
        db.save_snapshot(record, paths)
        assert db.skipped_page("snap-1", 20, 10) == (25, paths[20:])
        record.error = "edited"
        db.save_snapshot(record)  # a save without paths keeps them
        assert db.skipped_page("snap-1", 0, 100)[0] == 25
        assert db.delete_project("proj-1")
        assert db.skipped_page("snap-1", 0, 100) == (0, [])  # gone with the project
    finally:
        db.close()
