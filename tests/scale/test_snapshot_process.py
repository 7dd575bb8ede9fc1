"""Local-folder snapshots run in a worker process, not in a thread of the server."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from support.agent import AgentFactory, wait_until
from support.trees import make_flat_tree


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except FileNotFoundError:
                continue
            found += kids
            todo += kids
    return found


def test_a_killed_snapshot_process_fails_the_snapshot_and_the_agent_goes_on(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.01")
    assert agent.proc is not None
    before = set(descendants(agent.proc.pid))
    tree = make_flat_tree(tmp_path / "tree", 500, per_dir=50)
    r = httpx.post(agent.url + "/api/v1/projects/with-snapshot",
                   json={"name": "t", "localPath": str(tree)})
    pid = r.json()["projectId"]
    url = f"{agent.url}/api/v1/projects/{pid}/progress"
    wait_until(lambda: httpx.get(url).json()["stepNumber"] >= 3, timeout=20)
    workers = [p for p in descendants(agent.proc.pid) if p not in before]
    # The forkserver and the worker it forked: the worker is the newest.
    assert workers, "the snapshot did not run in a child process"
    os.kill(max(workers), signal.SIGKILL)
    wait_until(lambda: httpx.get(url).json()["step"] == "failed", timeout=20)
    state = httpx.get(url).json()
    assert "snapshot process ended unexpectedly" in state["error"]
    assert state["stepNumber"] == 3  # the step it was in
    # The agent still works: a new snapshot of the same project completes.
    assert httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot").status_code == 202
    wait_until(lambda: httpx.get(url).json()["step"] == "completed", timeout=60)


def niceness(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])  # field 19 of proc(5), after pid and comm


def test_the_snapshot_runs_below_the_serving_loop(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    # So that a walk on every core does not queue the events of those watching it.
    agent = agent_factory(VIDSYNC_THROTTLE="0.01", VIDSYNC_SNAPSHOT_NICE="7")
    assert agent.proc is not None
    base = niceness(agent.proc.pid)
    before = set(descendants(agent.proc.pid))
    tree = make_flat_tree(tmp_path / "tree", 500, per_dir=50)
    r = httpx.post(agent.url + "/api/v1/projects/with-snapshot",
                   json={"name": "t", "localPath": str(tree)})
    url = f"{agent.url}/api/v1/projects/{r.json()['projectId']}/progress"
    wait_until(lambda: httpx.get(url).json()["stepNumber"] >= 3, timeout=20)
    new = {p: niceness(p) for p in descendants(agent.proc.pid) if p not in before}
    assert base + 7 in new.values(), new  # the snapshot process
    assert niceness(agent.proc.pid) == base  # the server stays where it was
    wait_until(lambda: httpx.get(url).json()["step"] == "completed", timeout=60)
