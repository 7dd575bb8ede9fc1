"""``vidsync serve --workers N``: real supervisor and worker processes on one port."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import EventSource
from prometheus_client.parser import text_string_to_metric_families

from support.agent import AgentFactory, AgentProcess, wait_until
from support.redisserver import RedisServer
from support.trees import make_flat_tree

TERMINAL = ("completed", "failed", "cancelled")
# Long enough to act on a running snapshot (seconds of work on this machine).
SLOW = {"VIDSYNC_WORKERS": "2", "VIDSYNC_THROTTLE": "0.01"}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_flat_tree(tmp_path / "tree", 300, per_dir=30)


def new_project(agent: AgentProcess, tree: Path) -> str:
    r = httpx.post(agent.url + "/api/v1/projects", json={"name": "p", "localPath": str(tree)})
    assert r.status_code == 201, r.text
    return str(r.json()["projectId"])


def progress(agent: AgentProcess, pid: str) -> dict[str, Any]:
    return httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress").json()  # type: ignore[no-any-return]


def stored_ids(agent: AgentProcess, pid: str, sid: str) -> list[int]:
    r = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}/events")
    return [e["id"] for e in r.json()["events"]]


def client_on(
    agent: AgentProcess, *, avoid: int | None = None, want: int | None = None,
    timeout: float = 20.0,
) -> tuple[httpx.Client, int]:
    """A client whose keep-alive connection was accepted by one worker (``want``, or
    any but ``avoid``); the worker's pid comes from /health on that connection."""
    deadline = time.monotonic() + timeout
    while True:
        client = httpx.Client(base_url=agent.url, timeout=30)
        worker = int(client.get("/api/v1/health").json()["worker"])
        if worker != avoid and want in (None, worker):
            return client, worker
        client.close()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no connection reached a worker other than {avoid}")


def stream(
    client: httpx.Client, path: str, events: list[tuple[int, dict[str, Any]]],
    headers: dict[str, str] | None = None,
) -> None:
    """Append the stream's events (id, data) until a terminal one, or its process dies."""
    try:
        with client.stream("GET", path, headers=headers) as response:
            assert response.status_code == 200, response.read()
            for sse in EventSource(response).iter_sse():
                if sse.data:
                    data = json.loads(sse.data)
                    events.append((int(sse.id), data))
                    if data["step"] in TERMINAL:
                        return
    except (httpx.ReadError, httpx.RemoteProtocolError):
        return


def test_ten_concurrent_starts_of_one_project_give_one_202_and_nine_409s(
    agent_factory: AgentFactory, tree: Path
) -> None:
    agent = agent_factory(**SLOW)
    pid = new_project(agent, tree)

    def start(_: int) -> tuple[int, str, int]:
        with httpx.Client(base_url=agent.url) as client:
            worker = int(client.get("/api/v1/health").json()["worker"])
            r = client.post(f"/api/v1/projects/{pid}/snapshot")
            return r.status_code, r.json()["snapshotId"], worker

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(start, range(10)))
    codes = sorted(code for code, _, _ in answers)
    assert codes == [202] + [409] * 9, answers
    started = {sid for code, sid, _ in answers if code == 202}
    assert {sid for _, sid, _ in answers} == started  # every 409 names the running one
    wait_until(lambda: progress(agent, pid)["step"] in TERMINAL, timeout=60)
    history = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots").json()["snapshots"]
    assert [(s["snapshotId"], s["state"]) for s in history] == [(started.pop(), "completed")]


def test_a_cancel_sent_to_a_process_that_does_not_run_the_snapshot_cancels_it(
    agent_factory: AgentFactory, tree: Path
) -> None:
    agent = agent_factory(**SLOW)
    pid = new_project(agent, tree)
    owner_client, owner = client_on(agent)
    with closing(owner_client):
        r = owner_client.post(f"/api/v1/projects/{pid}/snapshot")
        assert r.status_code == 202, r.text
    sid = r.json()["snapshotId"]
    other_client, other = client_on(agent, avoid=owner)
    with closing(other_client):
        r = other_client.delete(f"/api/v1/projects/{pid}/snapshot")
    assert r.status_code == 202, r.text
    assert r.json() == {"projectId": pid, "snapshotId": sid}
    wait_until(lambda: progress(agent, pid)["step"] in TERMINAL, timeout=10)
    assert progress(agent, pid)["step"] == "cancelled"
    record = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}").json()["snapshot"]
    assert record["state"] == "cancelled"
    assert owner != other


def test_every_process_serves_every_projects_stream_with_the_same_ids(
    agent_factory: AgentFactory, tree: Path
) -> None:
    agent = agent_factory(VIDSYNC_WORKERS="2", VIDSYNC_THROTTLE="0.002")
    pid = new_project(agent, tree)
    first, worker_a = client_on(agent)
    second, worker_b = client_on(agent, avoid=worker_a)
    seen: dict[int, list[tuple[int, dict[str, Any]]]] = {worker_a: [], worker_b: []}
    everything: dict[int, list[tuple[int, dict[str, Any]]]] = {worker_a: [], worker_b: []}
    wide = [client_on(agent, want=w) for w in (worker_a, worker_b)]
    # From the first event on (Last-Event-ID 0), whenever each stream subscribes.
    threads = [
        threading.Thread(target=stream, args=(c, f"/api/v1/projects/{pid}/progress/stream",
                                              seen[w], {"Last-Event-ID": "0"}))
        for c, w in ((first, worker_a), (second, worker_b))
    ] + [
        threading.Thread(target=stream, args=(c, "/api/v1/progress/stream", everything[w],
                                              {"Last-Event-ID": "0"}))
        for c, w in wide
    ]
    for t in threads:
        t.start()
    r = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot")
    assert r.status_code == 202, r.text
    sid = r.json()["snapshotId"]
    for t in threads:
        t.join(60)
    first.close()
    second.close()
    ids = stored_ids(agent, pid, sid)
    assert ids == list(range(1, len(ids) + 1)) and len(ids) > 5
    for worker in (worker_a, worker_b):
        assert [i for i, _ in seen[worker]] == ids, worker
        assert seen[worker][-1][1]["step"] == "completed"
    for c, _ in wide:
        c.close()
    wide_ids = {w: [i for i, _ in everything[w]] for w in everything}
    assert wide_ids[worker_a] == wide_ids[worker_b]
    assert wide_ids[worker_a] == list(range(1, len(ids) + 1))  # agent-wide ids, in order


def test_a_client_whose_process_is_killed_resumes_exactly_on_another(
    agent_factory: AgentFactory, tree: Path
) -> None:
    agent = agent_factory(**SLOW)
    pid = new_project(agent, tree)
    owner_client, owner = client_on(agent)
    with closing(owner_client):
        r = owner_client.post(f"/api/v1/projects/{pid}/snapshot")
    assert r.status_code == 202, r.text
    sid = r.json()["snapshotId"]
    doomed_client, doomed = client_on(agent, avoid=owner)
    before: list[tuple[int, dict[str, Any]]] = []
    reader = threading.Thread(target=stream, args=(
        doomed_client, f"/api/v1/projects/{pid}/progress/stream", before,
        {"Last-Event-ID": "0"}))
    reader.start()
    wait_until(lambda: len(before) >= 3, timeout=20)
    os.kill(doomed, signal.SIGKILL)
    reader.join(10)
    assert not reader.is_alive()
    last = before[-1][0]
    # Events go on meanwhile: the resume has something to catch up on.
    wait_until(lambda: progress(agent, pid)["id"] >= last + 3, timeout=20)
    after: list[tuple[int, dict[str, Any]]] = []
    with httpx.Client(base_url=agent.url, timeout=60) as client:
        stream(client, f"/api/v1/projects/{pid}/progress/stream", after,
               {"Last-Event-ID": str(last)})
    got = [i for i, _ in before] + [i for i, _ in after]
    assert after and after[-1][1]["step"] == "completed"
    assert got == stored_ids(agent, pid, sid)
    assert got == list(range(1, len(got) + 1))  # no gap, no duplicate
    doomed_client.close()


def test_a_killed_owner_fails_its_snapshot_once_and_the_project_can_start_again(
    agent_factory: AgentFactory, tree: Path
) -> None:
    agent = agent_factory(**SLOW)
    pid = new_project(agent, tree)
    owner_client, owner = client_on(agent)
    with closing(owner_client):
        r = owner_client.post(f"/api/v1/projects/{pid}/snapshot")
    sid = r.json()["snapshotId"]
    wait_until(lambda: progress(agent, pid)["stepNumber"] >= 3, timeout=20)
    os.kill(owner, signal.SIGKILL)
    wait_until(lambda: progress(agent, pid)["step"] in TERMINAL, timeout=20)
    state = progress(agent, pid)
    assert state["step"] == "failed" and "interrupted" in state["error"]
    events = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}/events").json()
    assert [e["step"] for e in events["events"]].count("failed") == 1
    r = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot")
    assert r.status_code == 202, r.text


def test_workers_on_the_redis_bus_write_each_event_once_with_its_journal_ids(
    agent_factory: AgentFactory, redis_server: RedisServer, tree: Path
) -> None:
    agent = agent_factory(VIDSYNC_WORKERS="2", VIDSYNC_PROGRESS_BUS=redis_server.url,
                          VIDSYNC_AGENT_NAME="alpha", VIDSYNC_THROTTLE="0.002")
    pid = new_project(agent, tree)
    r = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot")
    assert r.status_code == 202, r.text
    sid = r.json()["snapshotId"]
    wait_until(lambda: progress(agent, pid)["step"] in TERMINAL, timeout=60)
    ids = stored_ids(agent, pid, sid)
    redis = redis_server.client()
    # Both processes write what they serve; a second write of an id is refused.
    wait_until(lambda: len(redis.xrange(f"vidsync:project:{pid}")) == len(ids))
    assert [e[0] for e in redis.xrange(f"vidsync:project:{pid}")] == [f"0-{i}" for i in ids]
    wide = [int(e[0].split("-")[1]) for e in redis.xrange("vidsync:agent:alpha")]
    assert wide == list(range(1, len(ids) + 1))
    first, one = client_on(agent)
    second, _ = client_on(agent, avoid=one)
    for client in (first, second):
        with closing(client):
            assert client.get("/api/v1/health").json()["teamBus"] == "ok"


def test_metrics_from_any_process_count_each_event_once(
    agent_factory: AgentFactory, tree: Path
) -> None:
    agent = agent_factory(VIDSYNC_WORKERS="2", VIDSYNC_THROTTLE="0.002")
    pid = new_project(agent, tree)
    r = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot")
    assert r.status_code == 202, r.text
    sid = r.json()["snapshotId"]
    wait_until(lambda: progress(agent, pid)["step"] in TERMINAL, timeout=60)
    published = len(stored_ids(agent, pid, sid))
    first, one = client_on(agent)
    second, _ = client_on(agent, avoid=one)
    for client in (first, second):
        with closing(client):
            def counted(client: httpx.Client = client) -> dict[str, float]:
                families = text_string_to_metric_families(client.get("/metrics").text)
                return {s.name: s.value for f in families for s in f.samples}

            # The last event is stored before the publisher's listeners count it.
            wait_until(lambda: counted()["vidsync_snapshots_running"] == 0)
            # Published by one process, shown by both: counted once in the sum.
            assert counted()["vidsync_progress_events_total"] == published


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {"VIDSYNC_WORKERS": "0"}, "VIDSYNC_WORKERS='0' is not valid: expected at least 1"),
        ([], {"VIDSYNC_WORKERS": "two"}, "VIDSYNC_WORKERS='two' is not valid: expected a whole"),
        ([], {"VIDSYNC_WORKERS": "65"}, "VIDSYNC_WORKERS='65' is not valid: expected at most 64"),
        (["--workers", "1.5"], {}, "'1.5' is not a whole number (1-64)"),
        (["--workers", "0"], {}, "0 is out of range: give 1 to 64 processes"),
    ],
)
def test_a_bad_number_of_workers_is_refused_with_a_clear_error(
    tmp_path: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vidsync.cli.main", "serve", *args],
        env={**os.environ, "VIDSYNC_DATA_DIR": str(tmp_path), "VIDSYNC_PORT": "1", **env},
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 2
    assert expected in done.stderr


def test_sigterm_stops_every_worker(agent_factory: AgentFactory) -> None:
    agent = agent_factory(VIDSYNC_WORKERS="3")
    workers: set[int] = set()
    clients: list[httpx.Client] = []
    for _ in range(3):
        client, worker = client_on(agent, want=None)
        clients.append(client)
        workers.add(worker)
    for client in clients:
        client.close()
    assert agent.proc is not None
    agent.stop(timeout=30)  # the supervisor gives its workers 20 s
    assert agent.proc.returncode == 0
    for worker in workers:
        wait_until(lambda w=worker: not _running(w), timeout=10)  # type: ignore[misc]


def test_workers_stop_when_the_supervisor_is_killed(agent_factory: AgentFactory) -> None:
    """kill -9 of the parent must not leave workers holding the port."""
    agent = agent_factory(VIDSYNC_WORKERS="2")
    workers: set[int] = set()
    clients: list[httpx.Client] = []
    for _ in range(2):
        client, worker = client_on(agent, avoid=next(iter(workers), None))
        clients.append(client)
        workers.add(worker)
    for client in clients:
        client.close()
    assert agent.proc is not None
    os.kill(agent.proc.pid, signal.SIGKILL)
    agent.proc.wait(10)
    for worker in workers:
        wait_until(lambda w=worker: not _running(w), timeout=20)  # type: ignore[misc]
    with socket.socket() as s:  # the port is free for the next start
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", agent.port))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True



def _span(agent: AgentProcess, pid: str, sid: str) -> tuple[float, float]:
    """When a completed snapshot held its batch slot: its first event not queued
    (after the slot was taken) to its terminal event (before it was given back)."""
    r = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}/events")
    events = r.json()["events"]
    assert events[-1]["step"] == "completed", events[-1]
    ran = [e for e in events if not e["queued"]]
    return _epoch(ran[0]["timestamp"]), _epoch(events[-1]["timestamp"])


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_the_batch_limit_holds_for_batches_sent_to_different_processes(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    # 2 s a snapshot: the first still holds the slot when the second batch comes.
    agent = agent_factory(VIDSYNC_WORKERS="2", VIDSYNC_THROTTLE="0.01",
                          VIDSYNC_BATCH_CONCURRENCY="1")
    pids = [new_project(agent, make_flat_tree(tmp_path / f"t{i}", 200, per_dir=20))
            for i in range(4)]
    first, one = client_on(agent)
    second, _ = client_on(agent, avoid=one)
    with closing(first), closing(second):
        a = first.post("/api/v1/snapshots/batch", json={"projectIds": pids[:2]}).json()
        b = second.post("/api/v1/snapshots/batch", json={"projectIds": pids[2:]}).json()
    items = a["started"] + a["queued"] + b["started"] + b["queued"]
    assert (len(a["started"] + b["started"]), len(a["queued"] + b["queued"])) == (1, 3), (a, b)
    wait_until(lambda: all(progress(agent, i["projectId"])["step"] in TERMINAL for i in items),
               timeout=120)
    for item in items:  # each told its watchers it waited, from its first event
        first_event = httpx.get(f"{agent.url}/api/v1/projects/{item['projectId']}/snapshots/"
                                f"{item['snapshotId']}/events").json()["events"][0]
        assert first_event["queued"] is (item in a["queued"] + b["queued"]), first_event
    spans = sorted(_span(agent, i["projectId"], i["snapshotId"]) for i in items)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.002, spans  # one at a time (timestamps are to the ms)


def test_a_killed_process_frees_its_batch_slot_for_a_sibling_queue(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(**SLOW, VIDSYNC_BATCH_CONCURRENCY="1")
    running, waiting = (new_project(agent, make_flat_tree(tmp_path / f"t{i}", 300, per_dir=30))
                        for i in range(2))
    owner_client, owner = client_on(agent)
    other_client, _ = client_on(agent, avoid=owner)
    with closing(owner_client), closing(other_client):
        r = owner_client.post("/api/v1/snapshots/batch", json={"projectIds": [running]})
        assert [s["projectId"] for s in r.json()["started"]] == [running], r.text
        r = other_client.post("/api/v1/snapshots/batch", json={"projectIds": [waiting]})
        assert [s["projectId"] for s in r.json()["queued"]] == [waiting], r.text
    sid = r.json()["queued"][0]["snapshotId"]
    wait_until(lambda: progress(agent, running)["stepNumber"] >= 3, timeout=20)
    assert progress(agent, waiting)["queued"] is True
    os.kill(owner, signal.SIGKILL)
    wait_until(lambda: progress(agent, running)["step"] in TERMINAL, timeout=20)
    assert "interrupted" in progress(agent, running)["error"]
    wait_until(lambda: progress(agent, waiting)["step"] in TERMINAL, timeout=60)
    assert progress(agent, waiting)["step"] == "completed"
    assert progress(agent, waiting)["snapshotId"] == sid


def backlog(agent: AgentProcess, worker: int) -> set[str]:
    """The projects whose state a fresh agent-wide stream of one worker process
    starts with (read up to the first heartbeat: the backlog comes before it)."""
    client, _ = client_on(agent, want=worker)  # a stream left early closes its connection
    seen: set[str] = set()
    with closing(client), client.stream("GET", "/api/v1/progress/stream") as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:"):
                seen.add(json.loads(line[5:])["projectId"])
            elif line.startswith(":"):
                return seen
    raise AssertionError("the stream ended")


def test_a_project_deleted_through_one_process_is_gone_from_every_process(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_WORKERS="2", VIDSYNC_SSE_HEARTBEAT="0.2")
    doomed, kept = (new_project(agent, make_flat_tree(tmp_path / f"t{i}", 50, per_dir=10))
                    for i in range(2))
    r = httpx.post(f"{agent.url}/api/v1/snapshots/batch", json={"projectIds": [doomed, kept]})
    assert r.status_code == 202, r.text
    wait_until(lambda: all(progress(agent, p)["step"] == "completed" for p in (doomed, kept)),
               timeout=60)
    first, one = client_on(agent)
    second, two = client_on(agent, avoid=one)
    first.close()
    second.close()
    for worker in (one, two):  # both processes show both finished snapshots
        wait_until(lambda w=worker: backlog(agent, w) == {doomed, kept})  # type: ignore[misc]
    deleter, _ = client_on(agent, want=one)
    with closing(deleter):
        assert deleter.delete(f"/api/v1/projects/{doomed}").status_code == 204
    for worker in (two, one):
        # Promptly: not when the retention time (600 s) runs out.
        wait_until(lambda w=worker: backlog(agent, w) == {kept}, timeout=5)  # type: ignore[misc]
        client, _ = client_on(agent, want=worker)
        with closing(client):
            assert client.get(f"/api/v1/projects/{doomed}/progress").status_code == 404
            assert client.get(f"/api/v1/projects/{doomed}/progress/stream").status_code == 404
    # A process started later (the supervisor's replacement of a killed one) agrees.
    os.kill(one, signal.SIGKILL)
    replacement, new = client_on(agent, avoid=two)  # not the survivor: the new one
    replacement.close()
    assert new != one
    assert backlog(agent, new) == {kept}
