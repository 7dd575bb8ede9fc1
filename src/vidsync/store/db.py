"""SQLite persistence: projects and snapshot records (WAL mode, one connection, a lock).

Several serving processes may share the database (``vidsync serve --workers N``):
what must be decided once for all of them is decided inside one write
transaction (``BEGIN IMMEDIATE``): the next event ids, and which process runs a
project's snapshot.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vidsync.models import (
    INTERRUPTED,
    ProgressEvent,
    Project,
    SnapshotRecord,
    SnapshotState,
    SourceKind,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    local_path TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    file_count INTEGER,
    directory_count INTEGER,
    total_bytes INTEGER,
    skipped_count INTEGER,
    manifest_url TEXT,
    manifest_bytes INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS snapshots_by_project ON snapshots(project_id, started_at);
-- Every progress event, so ids continue after a restart and Last-Event-ID resume
-- works for events from before it. Not tied to projects: ids are never reused,
-- even after a project is deleted and its id (impossibly) comes back (a deleted
-- project's log keeps its last event: ``_THIN_DELETED``).
CREATE TABLE IF NOT EXISTS progress_events (
    project_id TEXT NOT NULL,
    id INTEGER NOT NULL,
    snapshot_id TEXT,
    step TEXT NOT NULL,
    global_id INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS progress_events_by_snapshot ON progress_events(snapshot_id, id);
-- The agent-wide order: the next global id, and what sibling processes read after one.
CREATE INDEX IF NOT EXISTS progress_events_by_global ON progress_events(global_id);
-- Deleted projects, in order: sibling processes forget them (``deleted_after``)
-- and their progress log is thinned after the retention time (``compact_events``).
CREATE TABLE IF NOT EXISTS deleted_projects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT NOT NULL,
    deleted_at REAL NOT NULL,
    events_compacted INTEGER NOT NULL DEFAULT 0
);
-- The slots of running batch snapshots, agent-wide (``VIDSYNC_BATCH_CONCURRENCY``):
-- held by a live owner process until its snapshot ends.
CREATE TABLE IF NOT EXISTS batch_slots (
    project_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    snapshot_id TEXT
) WITHOUT ROWID;
-- The first paths a snapshot left out (bounded by the pipeline), in walk order.
CREATE TABLE IF NOT EXISTS snapshot_skipped (
    snapshot_id TEXT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, seq)
) WITHOUT ROWID;
"""

# Columns added after the first release: (table, column, type). Added in place to an
# existing database at start-up; a fresh one gets them the same way.
_MIGRATIONS = (
    ("snapshots", "skipped_json", "TEXT"),
    ("snapshots", "resume_of", "TEXT"),
    # The process running it (vidsync/owners.py), and a cancel asked of another process.
    ("snapshots", "owner", "TEXT"),
    ("snapshots", "cancel_requested", "INTEGER NOT NULL DEFAULT 0"),
    # 1 once its progress log was thinned (``compact_events``).
    ("snapshots", "events_compacted", "INTEGER NOT NULL DEFAULT 0"),
)

# What a finished snapshot's progress log keeps for good: the first event of each
# step (when it began: the honest bar's history) and of the time queued, every
# upload retry, and the last event. The progress in between goes.
_THIN_EVENTS = """
DELETE FROM progress_events
WHERE snapshot_id = ?1
  AND json_extract(body, '$.retry') IS NULL
  AND id NOT IN (
    SELECT MIN(id) FROM progress_events WHERE snapshot_id = ?1
    GROUP BY json_extract(body, '$.stepNumber'), json_extract(body, '$.queued'))
  AND id != (SELECT MAX(id) FROM progress_events WHERE snapshot_id = ?1)
"""

# What a deleted project's progress log keeps: its last event. Ids come from the
# log's maxima (``journal_event``): its own last id, and so the agent-wide last
# id whenever that is one of its events, so no id is ever issued again.
_THIN_DELETED = """
DELETE FROM progress_events
WHERE project_id = ?1
  AND id < (SELECT MAX(id) FROM progress_events WHERE project_id = ?1)
"""

# At most one running snapshot per project, whichever process started it.
_ONE_RUNNING = (
    "CREATE UNIQUE INDEX IF NOT EXISTS one_running_snapshot ON snapshots(project_id) "
    "WHERE state = 'running'"
)

_SNAPSHOT_COLUMNS = (
    "id, project_id, state, started_at, finished_at, file_count, directory_count, "
    "total_bytes, skipped_count, manifest_url, manifest_bytes, error, skipped_json, resume_of"
)


class Database:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            # First: sibling processes may be opening the same database right now.
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives the process being killed (it is in the
            # OS cache); only a power cut may lose the last commits.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
            with self._tx():
                self._migrate()

    def _migrate(self) -> None:
        for table, column, kind in _MIGRATIONS:
            have = {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        if self._conn.execute("PRAGMA user_version").fetchone()[0] < 1:
            # Projects deleted before deletions were recorded: their log is thinned
            # one retention time from now (``compact_events``).
            self._conn.execute(
                "INSERT INTO deleted_projects (project_id, deleted_at) "
                "SELECT DISTINCT project_id, ? FROM progress_events "
                "WHERE project_id NOT IN (SELECT id FROM projects) "
                "AND project_id NOT IN (SELECT project_id FROM deleted_projects)",
                (time.time(),),
            )
            self._conn.execute("PRAGMA user_version = 1")
        try:
            self._conn.execute(_ONE_RUNNING)
        except sqlite3.IntegrityError:
            # A database from before the index with two running records of one
            # project: only the newest can be real (recovery fails it if its owner is gone).
            self._conn.execute(
                "UPDATE snapshots SET state = 'failed', error = ? "
                "WHERE state = 'running' AND rowid NOT IN "
                "(SELECT MAX(rowid) FROM snapshots WHERE state = 'running' GROUP BY project_id)",
                (INTERRUPTED,),
            )
            self._conn.execute(_ONE_RUNNING)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._conn.execute(sql, args).fetchall())

    # -- projects ------------------------------------------------------------

    def add_project(self, project: Project) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO projects (id, name, local_path, source, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (project.id, project.name, project.local_path, project.source.value,
                 project.created_at),
            )

    def get_project(self, project_id: str) -> Project | None:
        rows = self._query(
            "SELECT id, name, local_path, source, created_at FROM projects WHERE id = ?",
            (project_id,),
        )
        return _project(rows[0]) if rows else None

    def find_project_by_path(self, local_path: str) -> Project | None:
        rows = self._query(
            "SELECT id, name, local_path, source, created_at FROM projects WHERE local_path = ?",
            (local_path,),
        )
        return _project(rows[0]) if rows else None

    def list_projects(self) -> list[Project]:
        rows = self._query(
            "SELECT id, name, local_path, source, created_at FROM projects ORDER BY created_at"
        )
        return [_project(r) for r in rows]

    def delete_project(self, project_id: str, deleted_at: float = 0.0) -> bool:
        """Delete the project and its snapshot records; ``deleted_at`` (epoch seconds)
        is recorded for the processes sharing the database (``deleted_after``)."""
        with self._tx() as conn:
            cur = conn.execute("DELETE FROM projects WHERE id = ?", (project_id,))
            if cur.rowcount == 0:
                return False
            conn.execute("INSERT INTO deleted_projects (project_id, deleted_at) VALUES (?, ?)",
                         (project_id, deleted_at))
            return True

    def deleted_after(self, seq: int) -> list[tuple[int, str]]:
        """The projects deleted after deletion number ``seq``: (number, project id)."""
        rows = self._query(
            "SELECT seq, project_id FROM deleted_projects WHERE seq > ? ORDER BY seq", (seq,))
        return [(int(r[0]), str(r[1])) for r in rows]

    def last_deletion(self) -> int:
        return int(self._query("SELECT COALESCE(MAX(seq), 0) FROM deleted_projects")[0][0])

    # -- snapshots -----------------------------------------------------------

    def save_snapshot(
        self, record: SnapshotRecord, skipped_paths: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Save the record and, in the same transaction, its skipped (kind, path) pairs."""
        skipped = json.dumps(record.skipped) if record.skipped is not None else None
        with self._tx() as conn:
            # UPDATE first: INSERT OR REPLACE would delete the row and, with it
            # (ON DELETE CASCADE), the skipped paths saved before.
            values = (record.project_id, record.state.value, record.started_at,
                      record.finished_at, record.file_count, record.directory_count,
                      record.total_bytes, record.skipped_count, record.manifest_url,
                      record.manifest_bytes, record.error, skipped, record.resume_of)
            cur = conn.execute(
                "UPDATE snapshots SET project_id=?, state=?, started_at=?, finished_at=?, "
                "file_count=?, directory_count=?, total_bytes=?, skipped_count=?, "
                "manifest_url=?, manifest_bytes=?, error=?, skipped_json=?, resume_of=? "
                "WHERE id=?",
                (*values, record.id),
            )
            if cur.rowcount == 0:
                conn.execute(
                    f"INSERT INTO snapshots ({_SNAPSHOT_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (record.id, *values),
                )
            if skipped_paths:
                conn.execute("DELETE FROM snapshot_skipped WHERE snapshot_id = ?", (record.id,))
                conn.executemany(
                    "INSERT INTO snapshot_skipped (snapshot_id, seq, kind, path) "
                    "VALUES (?, ?, ?, ?)",
                    ((record.id, i, kind, path) for i, (kind, path) in enumerate(skipped_paths)),
                )

    def claim_snapshot(
        self, record: SnapshotRecord, owner: str, alive: Callable[[str | None], bool] | None = None
    ) -> str | None:
        """Save a new running ``record`` as its project's one running snapshot, owned
        by ``owner``; if another is running already, save nothing and return its id.

        One whose owner is not ``alive`` any more (a killed process nobody has
        cleaned up after yet) is failed as interrupted instead."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT id, owner FROM snapshots WHERE project_id = ? AND state = 'running'",
                (record.project_id,),
            ).fetchone()
            if row is not None and (alive is None or alive(row[1])):
                return str(row[0])
            if row is not None:
                conn.execute(
                    "UPDATE snapshots SET state = 'failed', error = ?, finished_at = ?, "
                    "manifest_url = NULL WHERE id = ?",
                    (INTERRUPTED, record.started_at, row[0]),
                )
            conn.execute(
                "INSERT INTO snapshots (id, project_id, state, started_at, resume_of, owner) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (record.id, record.project_id, record.state.value, record.started_at,
                 record.resume_of, owner),
            )
        return None

    def running_owned(self) -> list[tuple[SnapshotRecord, str | None, bool]]:
        """Running snapshots with their owner token and whether a cancel was asked."""
        rows = self._query(
            f"SELECT {_SNAPSHOT_COLUMNS}, owner, cancel_requested FROM snapshots "
            "WHERE state = 'running'"
        )
        n = len(_SNAPSHOT_COLUMNS.split(","))
        return [(_snapshot(r), r[n], bool(r[n + 1])) for r in rows]

    def request_cancel(self, project_id: str) -> str | None:
        """Ask the owner of the project's running snapshot to cancel it; its id, or None."""
        with self._tx() as conn:
            row = conn.execute(
                "UPDATE snapshots SET cancel_requested = 1 "
                "WHERE project_id = ? AND state = 'running' RETURNING id",
                (project_id,),
            ).fetchone()
        return str(row[0]) if row is not None else None

    def fail_orphan(self, record: SnapshotRecord, owner: str | None) -> bool:
        """Save ``record`` (failed) if it is still running under ``owner``: True for the
        one process that does it, however many find the orphan at once."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE snapshots SET state = ?, error = ?, finished_at = ?, manifest_url = NULL "
                "WHERE id = ? AND state = 'running' AND owner IS ?",
                (record.state.value, record.error, record.finished_at, record.id, owner),
            )
            return cur.rowcount > 0

    # -- batch slots ---------------------------------------------------------------

    def _live_slots(self, alive: Callable[[str | None], bool]) -> tuple[list[str], list[str]]:
        """The projects holding a batch slot, and the rows of dead owners (free again)."""
        live: list[str] = []
        dead: list[str] = []
        for project_id, owner in self._conn.execute("SELECT project_id, owner FROM batch_slots"):
            (live if alive(owner) else dead).append(str(project_id))
        return live, dead

    def take_batch_slot(
        self, project_id: str, snapshot_id: str | None, owner: str, limit: int,
        alive: Callable[[str | None], bool],
    ) -> bool:
        """Hold one of the ``limit`` agent-wide batch slots for ``owner``'s snapshot
        of the project, if one is free: True if taken. A dead owner's slots are free."""
        with self._lock:
            live, _ = self._live_slots(alive)  # a read first: a full table writes nothing
            if len(live) >= limit:
                return False
            with self._tx() as conn:
                live, dead = self._live_slots(alive)
                conn.executemany("DELETE FROM batch_slots WHERE project_id = ?",
                                 ((p,) for p in dead))
                if len(live) >= limit or project_id in live:
                    return False
                conn.execute(
                    "INSERT INTO batch_slots (project_id, owner, snapshot_id) VALUES (?, ?, ?)",
                    (project_id, owner, snapshot_id),
                )
            return True

    def bind_batch_slot(self, project_id: str, snapshot_id: str, owner: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE batch_slots SET snapshot_id = ? WHERE project_id = ? AND owner = ?",
                (snapshot_id, project_id, owner),
            )

    def release_batch_slot(self, project_id: str, owner: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM batch_slots WHERE project_id = ? AND owner = ?",
                         (project_id, owner))

    def owner_of(self, snapshot_id: str) -> str | None:
        rows = self._query("SELECT owner FROM snapshots WHERE id = ?", (snapshot_id,))
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def skipped_page(
        self, snapshot_id: str, offset: int, limit: int
    ) -> tuple[int, list[tuple[str, str]]]:
        """How many skipped paths are stored for a snapshot, and one page of them."""
        total = int(self._query(
            "SELECT COUNT(*) FROM snapshot_skipped WHERE snapshot_id = ?", (snapshot_id,)
        )[0][0])
        rows = self._query(
            "SELECT kind, path FROM snapshot_skipped WHERE snapshot_id = ? AND seq >= ? "
            "ORDER BY seq LIMIT ?",
            (snapshot_id, offset, limit),
        )
        return total, [(str(r[0]), str(r[1])) for r in rows]

    def get_snapshot(self, project_id: str, snapshot_id: str) -> SnapshotRecord | None:
        rows = self._query(
            f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE project_id = ? AND id = ?",
            (project_id, snapshot_id),
        )
        return _snapshot(rows[0]) if rows else None

    def list_snapshots(
        self, project_id: str, limit: int = 100, offset: int = 0
    ) -> list[SnapshotRecord]:
        """Newest first; ``limit`` -1 for all."""
        rows = self._query(
            f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE project_id = ? "
            "ORDER BY started_at DESC, rowid DESC LIMIT ? OFFSET ?",
            (project_id, limit, offset),
        )
        return [_snapshot(r) for r in rows]

    def count_snapshots(self, project_id: str) -> int:
        return int(self._query(
            "SELECT COUNT(*) FROM snapshots WHERE project_id = ?", (project_id,))[0][0])

    def latest_completed_snapshot(self, project_id: str) -> SnapshotRecord | None:
        rows = self._query(
            f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE project_id = ? AND state = ? "
            "ORDER BY started_at DESC, rowid DESC LIMIT 1",
            (project_id, SnapshotState.COMPLETED.value),
        )
        return _snapshot(rows[0]) if rows else None

    def latest_snapshot(self, project_id: str) -> SnapshotRecord | None:
        found = self.list_snapshots(project_id, limit=1)
        return found[0] if found else None

    def snapshots_in_state(self, state: SnapshotState) -> list[SnapshotRecord]:
        rows = self._query(
            f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE state = ?", (state.value,)
        )
        return [_snapshot(r) for r in rows]

    # -- progress events -----------------------------------------------------

    def append_event(self, event: ProgressEvent) -> None:
        body = event.json_text()
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO progress_events"
                " (project_id, id, snapshot_id, step, global_id, body) VALUES (?, ?, ?, ?, ?, ?)",
                (event.project_id, event.id, event.snapshot_id, event.step.value,
                 event.global_id, body),
            )

    def journal_event(
        self, event: ProgressEvent, after_id: int = 0, after_global: int = 0
    ) -> tuple[ProgressEvent, list[ProgressEvent]]:
        """Give ``event`` the next ids and record it, in one write transaction.

        ``id`` is the project's next, ``global_id`` the database's next (never
        below ``after_id`` + 1 and ``after_global`` + 1, the caller's last ones),
        so every process sharing the database numbers events in commit order.
        Also returns the events other processes recorded after ``after_global``,
        oldest first: the caller shows them before this one.
        """
        with self._tx() as conn:
            last_id = conn.execute(
                "SELECT MAX(id) FROM progress_events WHERE project_id = ?", (event.project_id,)
            ).fetchone()[0] or 0
            top = conn.execute("SELECT MAX(global_id) FROM progress_events").fetchone()[0] or 0
            earlier = _events(conn.execute(
                "SELECT global_id, body FROM progress_events WHERE global_id > ? "
                "ORDER BY global_id", (after_global,),
            )) if top > after_global else []
            final = event.replace(id=max(last_id, after_id) + 1,
                                  global_id=max(top, after_global) + 1)
            conn.execute(
                "INSERT OR REPLACE INTO progress_events"
                " (project_id, id, snapshot_id, step, global_id, body) VALUES (?, ?, ?, ?, ?, ?)",
                (final.project_id, final.id, final.snapshot_id, final.step.value,
                 final.global_id, final.json_text()),
            )
        return final, earlier

    def events_after(self, global_id: int, limit: int = 1000) -> list[ProgressEvent]:
        """Events recorded after agent-wide id ``global_id``, oldest first."""
        with self._lock:
            return _events(self._conn.execute(
                "SELECT global_id, body FROM progress_events WHERE global_id > ? "
                "ORDER BY global_id LIMIT ?", (global_id, limit),
            ))

    def data_version(self) -> int:
        """Changes whenever another connection (any process) commits."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def last_global_id(self) -> int:
        return int(self._query("SELECT COALESCE(MAX(global_id), 0) FROM progress_events")[0][0])

    def last_event_ids(self) -> dict[str, int]:
        rows = self._query("SELECT project_id, MAX(id) FROM progress_events GROUP BY project_id")
        return {r[0]: int(r[1]) for r in rows}

    def recent_events(self, project_id: str, limit: int) -> list[ProgressEvent]:
        rows = self._query(
            "SELECT body FROM progress_events WHERE project_id = ? ORDER BY id DESC LIMIT ?",
            (project_id, limit),
        )
        return [ProgressEvent.from_json(json.loads(r[0])) for r in reversed(rows)]

    def compact_events(self, finished_before: float) -> int:
        """Thin the progress log of the snapshots that ended before ``finished_before``
        (epoch seconds) and were not thinned yet (``_THIN_EVENTS``), and that of
        the projects deleted before it (``_THIN_DELETED``); how many events went.
        Without it the log grows by every event of every snapshot.

        Call it with the retention time behind now: until then a client may still
        resume from any event of a finished snapshot, and sibling processes may
        still be reading them."""
        with self._tx() as conn:
            ids = [row[0] for row in conn.execute(
                "SELECT id FROM snapshots WHERE state != 'running' AND finished_at < ? "
                "AND events_compacted = 0", (finished_before,))]
            removed = 0
            for snapshot_id in ids:
                removed += conn.execute(_THIN_EVENTS, (snapshot_id,)).rowcount
                conn.execute("UPDATE snapshots SET events_compacted = 1 WHERE id = ?",
                             (snapshot_id,))
            deleted = list(conn.execute(
                "SELECT seq, project_id FROM deleted_projects "
                "WHERE deleted_at < ? AND events_compacted = 0", (finished_before,)))
            for seq, project_id in deleted:
                if conn.execute("SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone():
                    continue  # its id came back: its snapshots are thinned as usual
                removed += conn.execute(_THIN_DELETED, (project_id,)).rowcount
                conn.execute("UPDATE deleted_projects SET events_compacted = 1 WHERE seq = ?",
                             (seq,))
        return removed

    def snapshot_events(self, snapshot_id: str) -> list[ProgressEvent]:
        rows = self._query(
            "SELECT body FROM progress_events WHERE snapshot_id = ? ORDER BY id", (snapshot_id,)
        )
        return [ProgressEvent.from_json(json.loads(r[0])) for r in rows]

    def count_snapshots_by_state(self) -> dict[str, int]:
        rows = self._query("SELECT state, COUNT(*) FROM snapshots GROUP BY state")
        return {str(r[0]): int(r[1]) for r in rows}

    def count_projects(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM projects")[0][0])

    def running_snapshots(self) -> list[SnapshotRecord]:
        return self.snapshots_in_state(SnapshotState.RUNNING)


def _events(rows: Iterable[tuple[Any, ...]]) -> list[ProgressEvent]:
    events = []
    for global_id, body in rows:
        event = ProgressEvent.from_json(json.loads(body))
        event.global_id = int(global_id)
        events.append(event)
    return events


def _project(row: tuple[Any, ...]) -> Project:
    return Project(
        id=row[0], name=row[1], local_path=row[2], source=SourceKind(row[3]), created_at=row[4]
    )


def _snapshot(row: tuple[Any, ...]) -> SnapshotRecord:
    return SnapshotRecord(
        id=row[0],
        project_id=row[1],
        state=SnapshotState(row[2]),
        started_at=row[3],
        finished_at=row[4],
        file_count=row[5],
        directory_count=row[6],
        total_bytes=row[7],
        skipped_count=row[8],
        manifest_url=row[9],
        manifest_bytes=row[10],
        error=row[11],
        skipped=json.loads(row[12]) if row[12] else None,
        resume_of=row[13],
    )
