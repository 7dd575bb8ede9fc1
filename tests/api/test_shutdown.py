"""Stopping the agent: open streams end, running snapshots fail as interrupted."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from support.agent import AgentFactory
from support.sse import read_stream
from support.trees import make_flat_tree


def test_sigterm_ends_open_streams_with_the_interrupted_event(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.01")
    tree = make_flat_tree(tmp_path / "tree", 2000)
    r = httpx.post(agent.url + "/api/v1/projects/with-snapshot", json={"localPath": str(tree)})
    pid = r.json()["projectId"]
    box: dict[str, object] = {}
    opened = threading.Event()
    reader = threading.Thread(target=lambda: box.setdefault("r", read_stream(
        f"{agent.url}/api/v1/projects/{pid}/progress/stream", opened=opened)))
    reader.start()
    assert opened.wait(10)
    agent.stop()  # SIGTERM; kills after 15 s if the agent does not exit
    reader.join(20)
    # uvicorn re-raises the SIGTERM after its graceful shutdown: -15, not -9 (killed)
    assert agent.proc is not None and agent.proc.returncode in (0, -15), agent.log()
    result = box["r"]
    last = result.events[-1][1]  # type: ignore[attr-defined]
    assert last["step"] == "failed" and last["error"] == "interrupted: the agent stopped"
