"""Skipped entries and vanished folders through a real agent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from support.agent import AgentFactory, AgentProcess, wait_until
from support.sse import read_stream
from support.trees import make_flat_tree, make_tree


def wait_terminal(agent: AgentProcess, pid: str) -> dict:  # type: ignore[type-arg]
    state: dict = {}  # type: ignore[type-arg]

    def done() -> bool:
        state.update(httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress").json())
        return state["step"] in ("completed", "failed", "cancelled")

    wait_until(done, timeout=60)
    return state


def test_skipped_entries_are_on_the_event_the_record_and_their_own_route(
    agent: AgentProcess, tmp_path: Path
) -> None:
    root = make_tree(tmp_path / "p", {"a.txt": "x", "sub": {}})
    for i in range(12):
        os.mkfifo(root / "sub" / f"pipe{i:02d}")
    r = httpx.post(agent.url + "/api/v1/projects/with-snapshot", json={"localPath": str(root)})
    pid, sid = r.json()["projectId"], r.json()["snapshotId"]
    final = wait_terminal(agent, pid)
    assert final["step"] == "completed"
    assert final["skippedCount"] == 12
    assert final["skipped"] == {"vanished": 0, "unreadable": 0, "special": 12}
    stream = read_stream(f"{agent.url}/api/v1/projects/{pid}/progress/stream",
                         params={"snapshotId": sid})
    assert stream.events[-1][1]["skippedCount"] == 12
    (record,) = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots").json()["snapshots"]
    assert record["state"] == "completed" and record["skipped"] == final["skipped"]

    route = f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}/skipped"
    first = httpx.get(route, params={"limit": 5}).json()
    assert first["stored"] == 12 and first["nextOffset"] == 5
    assert first["entries"][0] == {"kind": "special", "path": "sub/pipe00"}
    rest = httpx.get(route, params={"offset": 5, "limit": 100}).json()
    assert [e["path"] for e in rest["entries"]] == [f"sub/pipe{i:02d}" for i in range(5, 12)]
    assert rest["nextOffset"] is None
    far = httpx.get(route, params={"offset": 2**63 + 5})
    # The same bound as every paged route: a clear 422, never a 500.
    assert far.status_code == 422 and far.json()["field"] == "offset"
    assert httpx.get(route, params={"offset": 2_000_000_000}).json()["entries"] == []
    assert httpx.get(route, params={"limit": 0}).status_code == 422
    missing = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/snap-nope/skipped")
    assert missing.status_code == 404 and "snap-nope" in missing.json()["detail"]
    assert httpx.get(f"{agent.url}/api/v1/projects/proj-nope/snapshots/{sid}/skipped"
                     ).status_code == 404


def test_project_folder_deleted_mid_snapshot_fails_it(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.002")
    root = make_flat_tree(tmp_path / "t", 3000, per_dir=100)
    r = httpx.post(agent.url + "/api/v1/projects/with-snapshot", json={"localPath": str(root)})
    pid = r.json()["projectId"]

    def browsing() -> bool:
        state = httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress").json()
        return state["stepNumber"] == 3 and (state["stepDone"] or 0) > 50

    wait_until(browsing, timeout=30)
    shutil.rmtree(root)
    final = wait_terminal(agent, pid)
    assert final["step"] == "failed"
    assert final["error"] == f"the project folder {root} vanished during the snapshot"
    (record,) = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots").json()["snapshots"]
    assert record["state"] == "failed" and record["snapshotUrl"] is None
    assert httpx.get(f"{agent.url}/api/v1/projects/{pid}/files").status_code == 404


def test_a_diff_marks_what_the_newer_snapshot_skipped_instead_of_calling_it_gone(
    agent: AgentProcess, tmp_path: Path
) -> None:
    root = make_tree(tmp_path / "p", {"x.mov": "x", "gone.mov": "g", "keep.mov": "k"})
    r = httpx.post(agent.url + "/api/v1/projects/with-snapshot", json={"localPath": str(root)})
    pid, a = r.json()["projectId"], r.json()["snapshotId"]
    assert wait_terminal(agent, pid)["step"] == "completed"
    (root / "gone.mov").unlink()
    (root / "x.mov").unlink()
    os.mkfifo(root / "x.mov")  # there, but the snapshot skips it (special)
    b = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot").json()["snapshotId"]
    assert wait_terminal(agent, pid)["skippedCount"] == 1
    diff = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{a}/diff/{b}").json()
    marks = {c["path"]: (c["change"], c.get("skippedIn")) for c in diff["changes"]}
    assert marks == {"gone.mov": ("removed", None), "x.mov": ("removed", "to")}
    # the other way round, the same entry is an addition the older one skipped
    back = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{b}/diff/{a}").json()
    assert {c["path"]: c.get("skippedIn") for c in back["changes"]} == {
        "gone.mov": None, "x.mov": "from"}
    cli = subprocess.run([sys.executable, "-m", "vidsync.cli.main", "diff", pid, a, b,
                          "--agent", agent.url], capture_output=True, text=True, check=False)
    assert cli.returncode == 0, cli.stderr
    assert "x.mov  (skipped by the newer snapshot: may still be there)" in cli.stdout
    assert "gone.mov\n" in cli.stdout
