"""Kill the agent at each point between the last uploaded byte and the `completed`
event (test-only hooks, VIDSYNC_TEST_CRASH_AT); after the restart nothing may
contradict what a client saw."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import EventSource

from support.agent import AgentFactory, AgentProcess, wait_until
from support.sse import read_stream
from support.trees import make_flat_tree
from vidsync.crashpoints import CRASH_POINTS

Event = dict[str, Any]


def follow(agent: AgentProcess, pid: str, seen: list[Event], opened: threading.Event) -> None:
    """Read the project's stream until it ends or the agent dies; keep every event."""
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(30)) as client,
            client.stream("GET", f"{agent.url}/api/v1/projects/{pid}/progress/stream") as r,
        ):
            opened.set()
            for sse in EventSource(r).iter_sse():
                if sse.data:
                    seen.append(json.loads(sse.data))
    except httpx.TransportError:
        pass  # the agent was killed
    finally:
        opened.set()


# What the record must say after a kill at each point.
EXPECTED = {"after-upload": "failed", "after-record": "completed", "after-publish": "completed"}


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_kill_between_upload_and_completed_never_contradicts_a_client(
    agent_factory: AgentFactory, tmp_path: Path, point: str
) -> None:
    data = tmp_path / "data"
    agent = agent_factory(data_dir=data, VIDSYNC_TEST_CRASH_AT=point)
    tree = make_flat_tree(tmp_path / "tree", 200)
    r = httpx.post(agent.url + "/api/v1/projects", json={"localPath": str(tree)})
    pid = r.json()["projectId"]
    streamed: list[Event] = []
    opened = threading.Event()
    reader = threading.Thread(target=follow, args=(agent, pid, streamed, opened))
    reader.start()
    assert opened.wait(10)
    sid = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot").json()["snapshotId"]
    polled: list[Event] = []

    def poll_until_dead() -> bool:
        try:
            polled.append(httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress").json())
        except httpx.TransportError:
            return True
        return False

    wait_until(poll_until_dead, timeout=60)
    assert agent.proc is not None and agent.proc.wait(10) == -signal.SIGKILL
    reader.join(30)
    seen = [e for e in streamed + polled if e.get("snapshotId") == sid]
    assert seen, "the client saw nothing of the snapshot"

    agent = agent_factory(data_dir=data, port=agent.port)
    record = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots").json()["snapshots"][0]
    assert record["snapshotId"] == sid and record["state"] == EXPECTED[point]
    manifest = data / "snapshots" / pid / f"{sid}.json.gz"
    page = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}")

    # 1. whatever terminal state a client saw before the kill, the record says the same
    for event in seen:
        if event["step"] == "completed":
            assert record["state"] == "completed"
            assert event["snapshotUrl"] == record["snapshotUrl"]
        elif event["step"] in ("failed", "cancelled"):
            assert record["state"] == event["step"]
    # 2. after the restart, poll and stream (resumed or fresh) agree with the record
    poll = httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress").json()
    assert (poll["snapshotId"], poll["step"]) == (sid, record["state"])
    last_id = streamed[-1]["id"] if streamed else None
    resumed = read_stream(
        f"{agent.url}/api/v1/projects/{pid}/progress/stream",
        headers={"Last-Event-ID": str(last_id)} if last_id is not None else None,
        params={"snapshotId": sid},
    )
    if resumed.status == 204:  # it had already seen the terminal event
        assert streamed[-1]["step"] == record["state"]
    else:
        final = resumed.events[-1][1]
        assert (final["snapshotId"], final["step"]) == (sid, record["state"])
        if final["step"] == "completed":
            assert final["snapshotUrl"] == record["snapshotUrl"]
    # 3. a completed record has its manifest; any other has none
    if record["state"] == "completed":
        assert poll["snapshotUrl"] == record["snapshotUrl"]
        assert page.status_code == 200 and page.json()["total"] == 200 + 200 // 100
        assert manifest.exists()
    else:
        assert record["error"] == "interrupted: the agent stopped"
        assert record["snapshotUrl"] is None and not manifest.exists()
        assert page.status_code == 200 and page.json()["entries"] == []
