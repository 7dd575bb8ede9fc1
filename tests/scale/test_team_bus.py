"""The Redis Streams bus with real agent processes and a real redis-server."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from support.agent import AgentFactory, AgentProcess, wait_until
from support.redisserver import RedisServer
from support.sse import read_stream
from support.trees import make_flat_tree


def start_snapshot(agent: AgentProcess, tree: Path) -> tuple[str, str]:
    r = httpx.post(agent.url + "/api/v1/projects/with-snapshot",
                   json={"name": tree.name, "localPath": str(tree)})
    assert r.status_code == 202, r.text
    return r.json()["projectId"], r.json()["snapshotId"]


def progress(agent: AgentProcess, pid: str) -> dict[str, Any]:
    return httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress").json()  # type: ignore[no-any-return]


def finished(agent: AgentProcess, pid: str) -> bool:
    return progress(agent, pid)["step"] in ("completed", "failed", "cancelled")


def health(agent: AgentProcess) -> dict[str, Any]:
    return httpx.get(agent.url + "/api/v1/health").json()  # type: ignore[no-any-return]


def stored_ids(agent: AgentProcess, pid: str, sid: str) -> list[int]:
    r = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}/events")
    return [e["id"] for e in r.json()["events"]]


def test_each_event_is_in_its_project_stream_and_the_agent_stream_with_its_sse_ids(
    agent_factory: AgentFactory, redis_server: RedisServer, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_PROGRESS_BUS=redis_server.url, VIDSYNC_AGENT_NAME="alpha")
    pid, sid = start_snapshot(agent, make_flat_tree(tmp_path / "tree", 200, per_dir=20))
    wait_until(lambda: finished(agent, pid), timeout=30)
    ids = stored_ids(agent, pid, sid)
    r = redis_server.client()
    wait_until(lambda: len(r.xrange(f"vidsync:project:{pid}")) == len(ids))
    entries = r.xrange(f"vidsync:project:{pid}")
    assert [e[0] for e in entries] == [f"0-{i}" for i in ids]
    assert '"step":"completed"' in entries[-1][1]["e"]
    assert all('"agent":"alpha"' in e[1]["e"] for e in entries)
    agent_wide = r.xrange("vidsync:agent:alpha")
    assert len(agent_wide) == len(ids)
    assert [int(e[0].split("-")[1]) for e in agent_wide] == sorted(
        int(e[0].split("-")[1]) for e in agent_wide)
    # Retention: the streams expire (VIDSYNC_PROGRESS_RETENTION, 600 s by default).
    assert 0 < r.ttl(f"vidsync:project:{pid}") <= 600
    assert health(agent)["teamBus"] == "ok"


def test_two_agents_list_each_other_and_show_each_others_snapshots_live(
    agent_factory: AgentFactory, redis_server: RedisServer, tmp_path: Path
) -> None:
    common = {"VIDSYNC_PROGRESS_BUS": redis_server.url, "VIDSYNC_AGENT_HEARTBEAT": "0.2"}
    alpha = agent_factory(tmp_path / "alpha", VIDSYNC_AGENT_NAME="alpha",
                          VIDSYNC_THROTTLE="0.004", **common)
    beta = agent_factory(tmp_path / "beta", VIDSYNC_AGENT_NAME="beta", **common)

    def names(agent: AgentProcess) -> dict[str, dict[str, Any]]:
        listed = httpx.get(agent.url + "/api/v1/agents").json()["agents"]
        return {a["name"]: a for a in listed}

    wait_until(lambda: set(names(beta)) == {"alpha", "beta"}, timeout=10)
    listed = names(beta)
    assert listed["beta"]["self"] and not listed["alpha"]["self"]
    assert listed["alpha"]["alive"] and listed["alpha"]["url"] == alpha.url

    box: dict[str, Any] = {}
    opened = threading.Event()

    def watch() -> None:
        box["r"] = read_stream(
            beta.url + "/api/v1/progress/stream", opened=opened, timeout=40,
            stop=lambda e: e.get("agent") == "alpha" and e["step"] == "completed")

    reader = threading.Thread(target=watch)
    reader.start()
    assert opened.wait(10)
    pid, sid = start_snapshot(alpha, make_flat_tree(tmp_path / "tree", 300, per_dir=30))
    # While it runs, beta lists it among alpha's running snapshots.
    wait_until(lambda: any(s["snapshotId"] == sid for s in names(beta)["alpha"]["running"])
               or finished(alpha, pid), timeout=20)
    reader.join(45)
    events = [e for _, e in box["r"].events if e.get("agent") == "alpha"]
    assert events, "beta's all-projects stream never showed alpha's snapshot"
    assert {e["projectId"] for e in events} == {pid}
    assert events[-1]["step"] == "completed"
    steps = [e["stepNumber"] for e in events]
    assert steps == sorted(steps) and len(set(steps)) >= 3


def test_redis_stopped_mid_snapshot_the_snapshot_finishes_and_nothing_is_lost(
    agent_factory: AgentFactory, redis_server: RedisServer, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_PROGRESS_BUS=redis_server.url, VIDSYNC_AGENT_NAME="alpha",
                          VIDSYNC_AGENT_HEARTBEAT="0.2", VIDSYNC_THROTTLE="0.01")
    wait_until(lambda: health(agent)["teamBus"] == "ok")
    tree = make_flat_tree(tmp_path / "tree", 300, per_dir=30)
    pid, sid = start_snapshot(agent, tree)
    wait_until(lambda: progress(agent, pid)["stepNumber"] >= 3, timeout=20)
    redis_server.stop()
    stopped_at = progress(agent, pid)["id"]  # every later event was published with Redis down
    box: dict[str, Any] = {}
    reader = threading.Thread(target=lambda: box.setdefault("r", read_stream(
        f"{agent.url}/api/v1/projects/{pid}/progress/stream", params={"snapshotId": sid},
        timeout=40)))
    reader.start()
    wait_until(lambda: health(agent)["teamBus"] == "down", timeout=10)
    wait_until(lambda: finished(agent, pid), timeout=30)
    reader.join(45)
    # Local clients saw the whole snapshot while the bus was down.
    assert box["r"].events[-1][1]["step"] == "completed"
    assert not progress(agent, pid).get("error")
    # Redis comes back empty: the events published meanwhile go to it, with the
    # journal's ids (never reused, never renumbered).
    redis_server.start()
    wait_until(lambda: health(agent)["teamBus"] == "ok", timeout=15)
    ids = stored_ids(agent, pid, sid)
    r = redis_server.client()
    wait_until(lambda: r.exists(f"vidsync:project:{pid}")
               and r.xrevrange(f"vidsync:project:{pid}", count=1)[0][0] == f"0-{ids[-1]}")
    in_redis = [int(e[0].split("-")[1]) for e in r.xrange(f"vidsync:project:{pid}")]
    assert in_redis == ids[len(ids) - len(in_redis):], "not the journal's ids, in order"
    assert [i for i in ids if i > stopped_at] == in_redis[-len([i for i in ids if i > stopped_at]):]
    assert ids[-1] > stopped_at


def test_with_the_memory_bus_the_agent_lists_only_itself(agent: AgentProcess) -> None:
    body = httpx.get(agent.url + "/api/v1/agents").json()
    assert body["teamBus"] is None
    assert [a["self"] for a in body["agents"]] == [True]
    assert body["agents"][0]["url"] == agent.url
    assert health(agent)["teamBus"] is None
