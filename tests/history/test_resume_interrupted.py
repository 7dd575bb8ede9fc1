"""VIDSYNC_RESUME_INTERRUPTED=1: a snapshot a kill interrupted is started again, once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from support.agent import AgentFactory, AgentProcess, wait_until
from support.trees import make_flat_tree


def snapshots(agent: AgentProcess, pid: str) -> list[dict[str, Any]]:
    data = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots").json()
    return list(data["snapshots"])


def kill_while_browsing(agent: AgentProcess, pid: str, sid: str) -> None:
    def browsing() -> bool:
        state = httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress").json()
        return bool(state["snapshotId"] == sid and state["stepNumber"] == 3)

    wait_until(browsing, timeout=30)
    agent.kill()


def test_an_interrupted_snapshot_is_restarted_once_and_completes(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    agent = agent_factory(data_dir=data, VIDSYNC_THROTTLE="0.005")
    tree = make_flat_tree(tmp_path / "tree", 2000)
    r = httpx.post(agent.url + "/api/v1/projects/with-snapshot", json={"localPath": str(tree)})
    pid, first = r.json()["projectId"], r.json()["snapshotId"]
    kill_while_browsing(agent, pid, first)

    agent = agent_factory(data_dir=data, port=agent.port, VIDSYNC_RESUME_INTERRUPTED="1")
    newest, old = snapshots(agent, pid)
    assert (old["snapshotId"], old["state"], old["error"]) == (
        first, "failed", "interrupted: the agent stopped")
    assert newest["resumeOf"] == first
    wait_until(lambda: snapshots(agent, pid)[0]["state"] == "completed", timeout=60)
    assert snapshots(agent, pid)[0]["fileCount"] == 2000


def test_a_restarted_snapshot_interrupted_again_is_not_restarted_again(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    slow = {"VIDSYNC_THROTTLE": "0.005", "VIDSYNC_RESUME_INTERRUPTED": "1"}
    agent = agent_factory(data_dir=data, **slow)
    tree = make_flat_tree(tmp_path / "tree", 2000)
    r = httpx.post(agent.url + "/api/v1/projects/with-snapshot", json={"localPath": str(tree)})
    pid, first = r.json()["projectId"], r.json()["snapshotId"]
    kill_while_browsing(agent, pid, first)

    agent = agent_factory(data_dir=data, port=agent.port, **slow)
    resumed = snapshots(agent, pid)[0]
    assert resumed["resumeOf"] == first and resumed["state"] == "running"
    kill_while_browsing(agent, pid, resumed["snapshotId"])

    agent = agent_factory(data_dir=data, port=agent.port, VIDSYNC_RESUME_INTERRUPTED="1")
    # The agent answers only after start-up, where restarts happen: none was made.
    history = snapshots(agent, pid)
    assert [(h["snapshotId"], h["state"]) for h in history] == [
        (resumed["snapshotId"], "failed"), (first, "failed")]
    assert httpx.get(f"{agent.url}/api/v1/projects/{pid}").json()["runningSnapshotId"] is None
