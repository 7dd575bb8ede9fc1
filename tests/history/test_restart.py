"""History and restart safety against real agent processes killed with SIGKILL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from support.agent import AgentFactory, AgentProcess, wait_until
from support.sse import read_stream
from support.trees import make_flat_tree


def start_snapshot(agent: AgentProcess, tree: Path) -> tuple[str, str]:
    r = httpx.post(agent.url + "/api/v1/projects/with-snapshot", json={"localPath": str(tree)})
    assert r.status_code == 202, r.text
    return r.json()["projectId"], r.json()["snapshotId"]


def test_resume_across_a_restart_has_no_gap_and_ids_are_never_reused(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    agent = agent_factory(data_dir=data, VIDSYNC_THROTTLE="0.005")
    tree = make_flat_tree(tmp_path / "tree", 3000)
    pid, sid = start_snapshot(agent, tree)
    stream = f"{agent.url}/api/v1/projects/{pid}/progress/stream"
    first = read_stream(stream, params={"snapshotId": sid}, max_events=5)
    seen = first.ids
    agent.kill()
    agent = agent_factory(data_dir=data, port=agent.port)
    rest = read_stream(stream, headers={"Last-Event-ID": str(seen[-1])})
    ids = seen + rest.ids
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids
    final = rest.events[-1][1]
    assert final["step"] == "failed" and final["error"] == "interrupted: the agent stopped"
    assert final["snapshotId"] == sid and 0 < final["stepNumber"] < 6
    history = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots").json()["snapshots"]
    assert [(h["snapshotId"], h["state"]) for h in history] == [(sid, "failed")]
    # a new snapshot after the restart continues the ids
    r = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot")
    new_sid = r.json()["snapshotId"]
    new_log = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{new_sid}/events").json()
    assert new_log["events"][0]["id"] == final["id"] + 1
    # the stored progress log of the first snapshot is complete
    log = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}/events").json()
    assert [e["id"] for e in log["events"]][-len(ids):] == ids


def test_sigkill_during_a_snapshot_is_recovered_every_time(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    tree = make_flat_tree(tmp_path / "tree", 2000)
    agent = agent_factory(data_dir=data, VIDSYNC_THROTTLE="0.002")
    pid, _ = start_snapshot(agent, tree)
    port = agent.port
    killed: list[str] = []
    for round_ in range(5):
        if round_:
            sid = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot").json()["snapshotId"]
        else:
            sid = httpx.get(f"{agent.url}/api/v1/projects/{pid}").json()["runningSnapshotId"]
        # kill it at a different point each round: after 2, 4, ... events
        read_stream(f"{agent.url}/api/v1/projects/{pid}/progress/stream",
                    params={"snapshotId": sid}, max_events=2 + 2 * round_)
        agent.kill()
        killed.append(sid)
        db = sqlite3.connect(data / "vidsync.db")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        agent = agent_factory(data_dir=data, port=port, VIDSYNC_THROTTLE="0.002")
        poll = httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress").json()
        assert (poll["snapshotId"], poll["step"]) == (sid, "failed")
        assert poll["error"] == "interrupted: the agent stopped"
        # a subscriber that connects now gets that terminal event
        late = read_stream(f"{agent.url}/api/v1/projects/{pid}/progress/stream")
        assert [e["step"] for _, e in late.events] == ["failed"]
    history = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots").json()["snapshots"]
    assert {h["snapshotId"]: h["state"] for h in history} == {s: "failed" for s in killed}
    assert all(h["snapshotUrl"] is None for h in history)
    # no partial manifest was published, no work files are left behind
    assert not list((data / "snapshots").rglob("*.json.gz")) if (data / "snapshots").exists() \
        else True
    assert not any((data / "work").iterdir())
    db = sqlite3.connect(data / "vidsync.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    # and the agent still works
    sid = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot").json()["snapshotId"]
    done = read_stream(f"{agent.url}/api/v1/projects/{pid}/progress/stream",
                       params={"snapshotId": sid})
    assert done.events[-1][1]["step"] == "completed"
    wait_until(lambda: httpx.get(f"{agent.url}/api/v1/projects/{pid}").json()[
        "latestSnapshot"]["state"] == "completed")


def test_all_projects_stream_resyncs_after_a_restart_instead_of_skipping(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    agent = agent_factory(data_dir=data)
    tree = make_flat_tree(tmp_path / "tree", 20)
    pid, sid = start_snapshot(agent, tree)
    read_stream(f"{agent.url}/api/v1/projects/{pid}/progress/stream",
                params={"snapshotId": sid})
    everything = read_stream(agent.url + "/api/v1/progress/stream", max_events=1)
    old_id = everything.ids[0]
    agent.kill()
    agent = agent_factory(data_dir=data, port=agent.port)
    sid2 = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot").json()["snapshotId"]
    read_stream(f"{agent.url}/api/v1/projects/{pid}/progress/stream",
                params={"snapshotId": sid2})
    new_events = httpx.get(
        f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid2}/events").json()["events"]
    # A client that saw `old_id` before the restart gets exactly the new process's
    # events (its global ids go on after the old ones), not a silent skip of the
    # first ones because their ids were reused.
    after = read_stream(agent.url + "/api/v1/progress/stream",
                        headers={"Last-Event-ID": str(old_id)}, max_events=len(new_events))
    assert [e["id"] for _, e in after.events] == [e["id"] for e in new_events]
    assert after.ids == list(range(old_id + 1, old_id + 1 + len(new_events)))
