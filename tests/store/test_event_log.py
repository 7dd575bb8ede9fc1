"""The progress log of finished snapshots is thinned, keeping what history needs."""

from __future__ import annotations

from pathlib import Path

import httpx

from support.agent import AgentFactory, wait_until
from support.trees import make_flat_tree
from vidsync.clock import FakeClock
from vidsync.models import (
    ProgressEvent,
    Project,
    SnapshotRecord,
    SnapshotState,
    SourceKind,
    Step,
    UploadRetry,
)
from vidsync.progress.expected import step_durations
from vidsync.progress.tracker import ProgressTracker
from vidsync.snapshot.recovery import restore_progress
from vidsync.store.db import Database

STEP_OF = {1: Step.WAITING, 2: Step.BROWSING, 3: Step.BROWSING, 4: Step.COMPRESSING,
           5: Step.UPLOADING, 6: Step.COMPLETED}


def run(tracker: ProgressTracker, db: Database, sid: str, *, finished_at: float | None,
        started: float) -> None:
    """A snapshot's events, many per step, then its record."""
    t = started

    def publish(number: int, progress: int, **extra: object) -> None:
        nonlocal t
        t += 1.0
        tracker.publish(ProgressEvent(
            project_id="p", step=STEP_OF[number], step_number=number, progress=progress,
            message="m", timestamp=t, snapshot_id=sid, **extra))  # type: ignore[arg-type]

    publish(1, 0, queued=True)
    publish(1, 0, queued=True)
    publish(1, 1)
    publish(2, 2)
    for p in range(5, 80, 5):
        publish(3, p)
    publish(4, 85)
    publish(4, 90)
    publish(5, 92)
    publish(5, 93, retry=UploadRetry(1, 3, 2.0))
    publish(5, 97)
    if finished_at is not None:
        publish(6, 100)
    db.save_snapshot(SnapshotRecord(
        id=sid, project_id="p",
        state=SnapshotState.COMPLETED if finished_at is not None else SnapshotState.RUNNING,
        started_at=started, finished_at=finished_at))


def test_old_snapshots_keep_step_starts_retries_and_the_end_and_ids_go_on(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "db.sqlite")
    db.add_project(Project("p", "p", "/x", SourceKind.LOCAL, 0))
    tracker = ProgressTracker(allocate=db.journal_event)
    run(tracker, db, "snap-old", finished_at=1_000.0, started=0.0)
    run(tracker, db, "snap-recent", finished_at=5_000.0, started=4_000.0)
    before_old = db.snapshot_events("snap-old")
    before_recent = db.snapshot_events("snap-recent")
    last_global = db.last_global_id()
    assert len(before_old) == 25

    removed = db.compact_events(finished_before=2_000.0)

    old = db.snapshot_events("snap-old")
    assert removed == len(before_old) - len(old) > 0
    # when each step began, the queue wait, the retry and the outcome
    assert [(e.step_number, e.queued, e.retry is not None) for e in old] == [
        (1, True, False), (1, False, False), (2, False, False), (3, False, False),
        (4, False, False), (5, False, False), (5, False, True), (6, False, False),
    ]
    assert step_durations(old) == step_durations(before_old)
    assert old[-1].step is Step.COMPLETED and old[-1].id == before_old[-1].id
    # a snapshot that ended within the retention time is left whole
    assert db.snapshot_events("snap-recent") == before_recent
    # thinned once: nothing more goes on the next call
    assert db.compact_events(finished_before=2_000.0) == 0

    # After a restart, a resume from inside the thinned log gets a resync (not a
    # silent jump over the events that are gone); one after them, exactly the rest.
    restored = ProgressTracker(allocate=db.journal_event, clock=FakeClock(start=4_100.0))
    restore_progress(db, restored)
    gap = restored.subscribe("p", last_event_id=old[2].id)
    resynced = gap.get_nowait()
    assert resynced is not None and resynced.resync
    assert gap.get_nowait() is None
    exact = restored.subscribe("p", last_event_id=before_recent[-3].id)
    assert [exact.get_nowait(), exact.get_nowait()] == before_recent[-2:]

    # ids are never reused after the thinning, in this tracker or a new one
    last = before_recent[-1]
    fresh = ProgressTracker(allocate=db.journal_event)
    event = fresh.publish(ProgressEvent(project_id="p", step=Step.WAITING, step_number=1,
                                        progress=0, message="m", timestamp=9_000.0,
                                        snapshot_id="snap-next"))
    assert event is not None
    assert (event.id, event.global_id) == (last.id + 1, last_global + 1)


def test_a_running_snapshot_is_never_thinned(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite")
    db.add_project(Project("p", "p", "/x", SourceKind.LOCAL, 0))
    tracker = ProgressTracker(allocate=db.journal_event)
    run(tracker, db, "snap-running", finished_at=None, started=0.0)
    before = db.snapshot_events("snap-running")
    assert db.compact_events(finished_before=10_000_000.0) == 0
    assert db.snapshot_events("snap-running") == before


def test_the_agent_thins_the_log_once_the_retention_time_is_over(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    # Retention 0: each snapshot's log is thinned as soon as it ends.
    agent = agent_factory(VIDSYNC_THROTTLE="0.003", VIDSYNC_PROGRESS_RETENTION="0")
    root = make_flat_tree(tmp_path / "t", 300, per_dir=30)
    r = httpx.post(agent.url + "/api/v1/projects", json={"localPath": str(root)})
    pid = r.json()["projectId"]
    r = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot")
    assert r.status_code == 202, r.text
    sid = r.json()["snapshotId"]
    url = f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}/events"

    def thinned() -> bool:
        steps = [e["stepNumber"] for e in httpx.get(url).json()["events"]]
        return steps == sorted(set(steps)) and steps[-1] == 6

    wait_until(thinned, timeout=30)
    assert [e["step"] for e in httpx.get(url).json()["events"]] == [
        "waiting", "browsing", "browsing", "compressing", "uploading", "completed"]


def test_a_deleted_projects_log_keeps_only_its_last_event_and_no_id_comes_again(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "db.sqlite")
    for pid in ("p", "gone"):
        db.add_project(Project(pid, pid, "/x", SourceKind.LOCAL, 0))
    tracker = ProgressTracker(allocate=db.journal_event)

    def publish(pid: str, n: int) -> ProgressEvent:
        for i in range(n):
            event = tracker.publish(ProgressEvent(
                project_id=pid, step=Step.BROWSING, step_number=2, progress=i, message="m",
                timestamp=1.0, snapshot_id=f"snap-{pid}"))
        assert event is not None
        return event

    publish("p", 5)
    first_gone = publish("gone", 1)
    last_gone = publish("gone", 4)  # the newest event of all: the agent-wide last id
    assert db.delete_project("gone", deleted_at=3_000.0)
    assert db.compact_events(finished_before=2_000.0) == 0  # within the retention time
    assert len(db.recent_events("gone", 100)) == 5
    assert db.compact_events(finished_before=4_000.0) == 4
    assert [e.id for e in db.recent_events("gone", 100)] == [last_gone.id]
    assert db.compact_events(finished_before=4_000.0) == 0  # once
    publish("p", 5)

    # After a restart: a resume from inside the removed events gets a resync; one
    # after them, exactly the rest; nothing of the deleted project is shown.
    restored = ProgressTracker(allocate=db.journal_event, clock=FakeClock(start=4_100.0))
    restore_progress(db, restored)
    assert restored.current("gone") is None
    gap = restored.subscribe_all(last_event_id=first_gone.global_id)
    resynced = gap.get_nowait()
    assert resynced is not None and resynced.resync and resynced.project_id == "p"
    assert gap.get_nowait() is None
    exact = restored.subscribe_all(last_event_id=last_gone.global_id)
    replay = [exact.get_nowait() for _ in range(5)]
    assert [e.global_id for e in replay if e] == list(
        range(last_gone.global_id + 1, last_gone.global_id + 6))

    # No id is issued again: per project (were it to come back) and agent-wide.
    db.add_project(Project("gone", "gone", "/x", SourceKind.LOCAL, 0))
    db.delete_project("p", deleted_at=5_000.0)
    assert db.compact_events(finished_before=6_000.0) > 0
    fresh = ProgressTracker(allocate=db.journal_event)
    event = fresh.publish(ProgressEvent(project_id="gone", step=Step.WAITING, step_number=1,
                                        progress=0, message="m", timestamp=9_000.0,
                                        snapshot_id="snap-again"))
    assert event is not None
    assert event.id == last_gone.id + 1
    assert event.global_id == last_gone.global_id + 6


def test_projects_deleted_before_deletions_were_recorded_are_thinned_too(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    db = Database(path)
    db.add_project(Project("old", "old", "/x", SourceKind.LOCAL, 0))
    tracker = ProgressTracker(allocate=db.journal_event)
    for i in range(3):
        tracker.publish(ProgressEvent(project_id="old", step=Step.BROWSING, step_number=2,
                                      progress=i, message="m", timestamp=1.0,
                                      snapshot_id="snap-old"))
    # A database of the release before: the deletion left no record, nor a version.
    db.delete_project("old")
    db._conn.execute("DELETE FROM deleted_projects")
    db._conn.execute("PRAGMA user_version = 0")
    db.close()
    reopened = Database(path)
    assert reopened.compact_events(finished_before=0.0) == 0
    assert reopened.compact_events(finished_before=10_000_000_000.0) == 2
    assert len(reopened.recent_events("old", 10)) == 1


def test_the_agent_thins_a_deleted_projects_log_after_the_retention_time(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_WORKERS="2", VIDSYNC_THROTTLE="0.002",
                          VIDSYNC_PROGRESS_RETENTION="0")
    doomed, other = (
        httpx.post(agent.url + "/api/v1/projects", json={
            "localPath": str(make_flat_tree(tmp_path / f"t{i}", 100, per_dir=20))
        }).json()["projectId"] for i in range(2))

    def snapshot(pid: str) -> str:
        r = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot")
        assert r.status_code == 202, r.text
        sid = str(r.json()["snapshotId"])
        url = f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}"
        wait_until(lambda: httpx.get(url).json()["snapshot"]["state"] == "completed", timeout=60)
        return sid

    snapshot(doomed)
    snapshot(doomed)
    db = Database(agent.data_dir / "vidsync.db")

    def logged(pid: str, after: int = 0) -> list[ProgressEvent]:
        return [e for e in db.events_after(after, 100_000) if e.project_id == pid]

    wait_until(lambda: logged(doomed)[-1].terminal)  # recorded, then announced
    before = logged(doomed)
    assert len(before) > 2
    assert httpx.delete(f"{agent.url}/api/v1/projects/{doomed}").status_code == 204
    snapshot(other)  # its end runs the thinning: the retention time (0) is over
    wait_until(lambda: logged(doomed) == before[-1:], timeout=10)
    # The agent-wide ids went on after the deleted project's.
    assert logged(other, after=before[-1].global_id)
