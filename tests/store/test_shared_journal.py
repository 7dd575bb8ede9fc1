"""Several processes' connections to one database: ids and claims decided once."""

from __future__ import annotations

import threading
from pathlib import Path

from vidsync.models import ProgressEvent, Project, SnapshotRecord, SnapshotState, SourceKind, Step
from vidsync.progress.siblings import SiblingTail
from vidsync.progress.tracker import ProgressTracker
from vidsync.store.db import Database


def event(project_id: str, progress: int = 1) -> ProgressEvent:
    return ProgressEvent(project_id=project_id, step=Step.BROWSING, step_number=3,
                         progress=progress, message="Browsing files...", timestamp=1.0,
                         snapshot_id=f"s-{project_id}")


def add_project(db: Database, project_id: str) -> None:
    db.add_project(Project(id=project_id, name=project_id, local_path=f"/p/{project_id}",
                           source=SourceKind.LOCAL, created_at=1.0))


def test_connections_writing_at_once_get_unique_ids_in_commit_order(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    dbs = [Database(path) for _ in range(4)]

    def write(db: Database, project_id: str) -> None:
        last = 0
        for _ in range(50):
            final, _ = db.journal_event(event(project_id))
            assert final.id > last
            last = final.id

    threads = [threading.Thread(target=write, args=(db, p))
               for db, p in zip(dbs, ["a", "a", "b", "c"], strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = dbs[0].events_after(0)
    assert [e.global_id for e in rows] == list(range(1, 201))
    by_project: dict[str, list[int]] = {}
    for e in rows:
        by_project.setdefault(e.project_id, []).append(e.id)
    assert by_project == {"a": list(range(1, 101)), "b": list(range(1, 51)),
                          "c": list(range(1, 51))}


def test_a_tracker_shows_its_siblings_events_before_its_own_in_journal_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    one, two = Database(path), Database(path)
    first = ProgressTracker(allocate=one.journal_event)
    second = ProgressTracker(allocate=two.journal_event)
    watcher = second.subscribe_all()
    first.publish(event("a"))
    first.publish(event("a", 2))
    mine = second.publish(event("b"))
    assert mine is not None and mine.global_id == 3
    assert [(e.project_id, e.id, e.global_id) for e in iter(watcher.get_nowait, None)] == [
        ("a", 1, 1), ("a", 2, 2), ("b", 1, 3)]
    # The tail shows what the sibling wrote later, once, with its ids.
    tail = SiblingTail(two, second)
    first.publish(event("a", 3))
    assert tail.poll() == 1
    assert tail.poll() == 0
    current = second.current("a")
    assert current is not None and (current.id, current.global_id, current.progress) == (3, 4, 3)
    replay = second.subscribe("a", last_event_id=1)
    assert [e.id for e in iter(replay.get_nowait, None)] == [2, 3]


def test_one_running_snapshot_per_project_whichever_connection_claims(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    one, two = Database(path), Database(path)
    add_project(one, "p")
    first = SnapshotRecord(id="s1", project_id="p", state=SnapshotState.RUNNING, started_at=1.0)
    second = SnapshotRecord(id="s2", project_id="p", state=SnapshotState.RUNNING, started_at=2.0)
    assert one.claim_snapshot(first, "111:1") is None
    assert two.claim_snapshot(second, "222:2") == "s1"
    assert two.request_cancel("p") == "s1"
    [(record, owner, requested)] = one.running_owned()
    assert (record.id, owner, requested) == ("s1", "111:1", True)
    record.state, record.error = SnapshotState.FAILED, "interrupted"
    assert two.fail_orphan(record, "111:1") is True
    assert one.fail_orphan(record, "111:1") is False  # only one process ends it
    assert one.claim_snapshot(second, "222:2") is None


def test_a_claim_takes_over_from_a_dead_owner_and_fails_its_snapshot(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite")
    add_project(db, "p")
    old = SnapshotRecord(id="s1", project_id="p", state=SnapshotState.RUNNING, started_at=1.0)
    new = SnapshotRecord(id="s2", project_id="p", state=SnapshotState.RUNNING, started_at=2.0)
    assert db.claim_snapshot(old, "111:1") is None
    assert db.claim_snapshot(new, "222:2", alive=lambda owner: owner == "111:1") == "s1"
    assert db.claim_snapshot(new, "222:2", alive=lambda owner: False) is None
    gone = db.get_snapshot("p", "s1")
    assert gone is not None and (gone.state, gone.error) == (
        SnapshotState.FAILED, "interrupted: the agent stopped")
