"""AgentClient (the blocking wrapper) over every route of a real agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.agent import AgentProcess
from support.trees import make_tree
from vidsync.client import (
    AgentClient,
    AgentUnreachable,
    BadRequestError,
    ConflictError,
    ConnectionState,
    ConnectionStatus,
    NotFoundError,
)
from vidsync.models import ProgressEvent


def test_every_route_with_typed_answers_and_typed_errors(
    agent: AgentProcess, tmp_path: Path
) -> None:
    tree = make_tree(tmp_path / "tree", {"a": {"x.txt": "abc"}, "gone.txt": "1", "b.txt": "22"})
    with AgentClient(agent.url) as api:
        assert api.health()["status"] == "ok"
        assert api.config().poll_interval == 1.0
        project = api.create_project(tree, name="Tree")
        pid = project["projectId"]
        assert (project["name"], project["localPath"]) == ("Tree", str(tree))
        with pytest.raises(ConflictError) as conflict:
            api.create_project(tree)
        assert conflict.value.status == 409 and conflict.value.body["projectId"] == pid
        with pytest.raises(BadRequestError) as bad:
            api.create_project("relative/path")
        assert bad.value.field == "localPath" and "absolute" in bad.value.detail
        with pytest.raises(NotFoundError):
            api.get_project("proj-nope")
        assert api.progress(pid).step.value == "idle"
        with pytest.raises(ConflictError):
            api.cancel_snapshot(pid)

        first = api.start_snapshot(pid)["snapshotId"]
        seen: list[ProgressEvent] = []
        states: list[ConnectionStatus] = []
        events = list(api.watch(pid, snapshot_id=first, on_event=seen.append,
                                on_state=states.append))
        assert events == seen and events[-1].step.value == "completed"
        assert states[-1].state is ConnectionState.DISCONNECTED
        (tree / "gone.txt").unlink()
        (tree / "b.txt").write_text("2222")
        (tree / "new.txt").write_text("n")
        second = api.start_snapshot(pid)["snapshotId"]
        last = api.wait(pid, snapshot_id=second)
        assert last is not None and last.step.value == "completed"

        assert [s["snapshotId"] for s in api.list_snapshots(pid)] == [second, first]
        page = api.get_snapshot(pid, first, limit=2)
        assert page["snapshot"]["state"] == "completed"
        assert (len(page["entries"]), page["total"], page["nextOffset"]) == (2, 4, 2)
        assert api.snapshot_events(pid, first)[-1].step.value == "completed"
        diff = api.diff(pid, first, second)
        assert diff["from"] == first and diff["to"] == second
        assert {(c["change"], c["path"]) for c in diff["changes"]} == {
            ("removed", "gone.txt"), ("modified", "b.txt"), ("added", "new.txt")}
        assert diff["counts"]["added"] == 1 and diff["bytes"]["modifiedDelta"] == 2
        assert api.files(pid)["snapshot"]["snapshotId"] == second
        assert [n["name"] for n in api.files_tree(pid)["tree"]] == ["a", "b.txt", "new.txt"]
        with pytest.raises(NotFoundError):
            api.get_snapshot(pid, "snap-nope")

        batch = api.batch([pid, "proj-nope"])
        assert [s["projectId"] for s in batch["started"] + batch["queued"]] == [pid]
        assert [e["projectId"] for e in batch["errors"]] == ["proj-nope"]
        api.wait(pid, snapshot_id=(batch["started"] + batch["queued"])[0]["snapshotId"])
        api.delete_project(pid)
        assert api.list_projects() == []


def test_no_agent_is_a_typed_error(tmp_path: Path) -> None:
    from support.agent import free_port

    with AgentClient(f"http://127.0.0.1:{free_port()}") as api, \
            pytest.raises(AgentUnreachable) as info:
        api.health()
    assert info.value.status is None


def test_closing_twice_is_fine(agent: AgentProcess) -> None:
    with AgentClient(agent.url) as api:
        assert api.health()["status"] == "ok"
        api.close()
    api.close()
