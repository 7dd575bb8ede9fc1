"""The HTTP API against a real agent process."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from support.agent import AgentFactory, AgentProcess, wait_until
from support.sse import read_stream
from support.trees import make_flat_tree, make_tree
from vidsync.snapshot.manifest import read_manifest


def create(agent: AgentProcess, path: Path, *, snapshot: bool = False) -> dict:  # type: ignore[type-arg]
    url = agent.url + "/api/v1/projects" + ("/with-snapshot" if snapshot else "")
    r = httpx.post(url, json={"name": path.name, "localPath": str(path)})
    assert r.status_code == (202 if snapshot else 201), r.text
    return r.json()  # type: ignore[no-any-return]


def wait_finished(agent: AgentProcess, pid: str) -> dict:  # type: ignore[type-arg]
    state: dict = {}  # type: ignore[type-arg]

    def done() -> bool:
        state.update(httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress").json())
        return state["step"] in ("completed", "failed", "cancelled")

    wait_until(done, timeout=30)
    return state


def test_stream_shows_six_steps_in_order_and_a_readable_manifest(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.0005")
    tree = make_flat_tree(tmp_path / "tree", 400, per_dir=40)
    project = create(agent, tree)
    pid = project["projectId"]
    # subscribe before the snapshot starts: the stream waits for the first event
    box: dict = {}  # type: ignore[type-arg]
    opened = threading.Event()
    reader = threading.Thread(
        target=lambda: box.setdefault("r", read_stream(
            f"{agent.url}/api/v1/projects/{pid}/progress/stream", opened=opened)))
    reader.start()
    assert opened.wait(10)
    r = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot")
    assert r.status_code == 202, r.text
    snapshot_id = r.json()["snapshotId"]
    reader.join(60)
    result = box["r"]
    assert result.status == 200
    assert result.headers["cache-control"] == "no-store"
    assert result.headers["x-accel-buffering"] == "no"
    assert "gzip" not in result.headers.get("content-encoding", "")
    assert result.retry is not None
    events = [e for _, e in result.events]
    assert result.ids == list(range(result.ids[0], result.ids[0] + len(result.ids)))
    assert result.ids == [e["id"] for e in events]
    assert {e["snapshotId"] for e in events} == {snapshot_id}
    steps = result.steps
    assert steps == sorted(steps) and set(steps) == {1, 2, 3, 4, 5, 6}
    assert [e["step"] for e in events][-1] == "completed"
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress)
    assert progress.count(100) == 1 and progress[-1] == 100
    final = events[-1]
    assert final["fileCount"] == 400 and final["totalBytes"] == 4000
    assert final["totalSize"] == "3.9 KiB"
    url = urlparse(final["snapshotUrl"])
    assert url.scheme == "file"
    with open(url.path, "rb") as f:
        header, entries = read_manifest(f)
        assert header["fileCount"] == 400
        assert sum(1 for _ in entries) == 410  # 400 files in 10 folders
    with gzip.open(url.path) as f:
        assert f.read(1) == b"{"
    # polling after completion says completed, with the same final state
    poll = httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress").json()
    assert poll["step"] == "completed" and poll["id"] == final["id"]
    assert poll["snapshotUrl"] == final["snapshotUrl"]


def test_reconnect_with_last_event_id_mid_snapshot_has_no_gap_and_no_duplicate(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.002")
    tree = make_flat_tree(tmp_path / "tree", 600, per_dir=50)
    started = create(agent, tree, snapshot=True)
    pid, sid = started["projectId"], started["snapshotId"]
    stream = f"{agent.url}/api/v1/projects/{pid}/progress/stream"
    first = read_stream(stream, params={"snapshotId": sid}, max_events=4)
    assert len(first.events) == 4
    last = first.ids[-1]
    # resume with the header, then with the query parameter, from the same point
    second = read_stream(stream, headers={"Last-Event-ID": str(last)})
    third = read_stream(stream, params={"lastEventId": str(last)})
    for rest in (second, third):
        ids = first.ids + rest.ids
        assert ids == list(range(ids[0], ids[0] + len(ids))), ids
        assert rest.events[-1][1]["step"] == "completed"
        assert not any(e.get("resync") for _, e in rest.events)
    # reconnecting with the terminal event's id: 204, the browser stops retrying
    done = read_stream(stream, headers={"Last-Event-ID": str(second.ids[-1])})
    assert done.status == 204
    # a retained terminal state ends a plain stream at once
    again = read_stream(stream)
    assert again.status == 200 and [e["step"] for _, e in again.events] == ["completed"]


def test_stream_for_a_new_snapshot_skips_the_previous_terminal_state(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory()
    tree = make_tree(tmp_path / "t", {"a": "1"})
    pid = create(agent, tree, snapshot=True)["projectId"]
    wait_finished(agent, pid)
    sid = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot").json()["snapshotId"]
    result = read_stream(f"{agent.url}/api/v1/projects/{pid}/progress/stream",
                         params={"snapshotId": sid})
    assert {e["snapshotId"] for _, e in result.events} == {sid}
    assert result.events[-1][1]["step"] == "completed"


def test_concurrent_snapshot_gets_409_and_cancel_works(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.01")
    tree = make_flat_tree(tmp_path / "tree", 500)
    started = create(agent, tree, snapshot=True)
    pid = started["projectId"]
    r = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot")
    assert r.status_code == 409
    assert started["snapshotId"] in r.json()["detail"]
    r = httpx.delete(f"{agent.url}/api/v1/projects/{pid}/snapshot")
    assert r.status_code == 202
    state = wait_finished(agent, pid)
    assert state["step"] == "cancelled" and state["progress"] < 100
    history = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots").json()["snapshots"]
    assert history[0]["state"] == "cancelled" and history[0]["snapshotUrl"] is None
    # "cancelled" is shown before the snapshot's process has exited and let go of it.
    wait_until(lambda: httpx.get(f"{agent.url}/api/v1/projects/{pid}").json()[
        "runningSnapshotId"] is None)
    assert httpx.delete(f"{agent.url}/api/v1/projects/{pid}/snapshot").status_code == 409


def test_poll_is_idle_before_any_snapshot_and_404_for_unknown(
    agent: AgentProcess, tmp_path: Path
) -> None:
    pid = create(agent, make_tree(tmp_path / "t", {"a": "1"}))["projectId"]
    poll = httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress")
    assert poll.status_code == 200
    assert (poll.json()["step"], poll.json()["stepNumber"]) == ("idle", 0)
    assert httpx.get(f"{agent.url}/api/v1/projects/proj-nope/progress").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/v1/projects", {"localPath": "/definitely/not/here"}, 400),
        ("POST", "/api/v1/projects", {"localPath": "relative/path"}, 400),
        ("POST", "/api/v1/projects", {"localPath": ""}, 400),
        ("POST", "/api/v1/projects", {"name": "x"}, 422),
        ("POST", "/api/v1/projects", {"localPath": "/tmp", "source": "ftp"}, 422),
        ("GET", "/api/v1/projects/proj-unknown", None, 404),
        ("GET", "/api/v1/projects/..%2F..%2Fetc%2Fpasswd/progress", None, 404),
        ("GET", "/api/v1/projects/../../etc/passwd", None, 404),
        ("GET", "/api/v1/projects/proj-..%2Fx/progress/stream", None, 404),
        ("POST", "/api/v1/projects/proj-unknown/snapshot", None, 404),
        ("DELETE", "/api/v1/projects/proj-unknown", None, 404),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    agent: AgentProcess, method: str, path: str, body: dict | None, status: int  # type: ignore[type-arg]
) -> None:
    r = httpx.request(method, agent.url + path, json=body)
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    assert "Traceback" not in r.text


def test_file_instead_of_folder_and_malformed_last_event_id(
    agent: AgentProcess, tmp_path: Path
) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    r = httpx.post(agent.url + "/api/v1/projects", json={"localPath": str(f)})
    assert r.status_code == 400 and "not a folder" in r.json()["detail"]
    assert r.json()["field"] == "localPath"
    pid = create(agent, make_tree(tmp_path / "t", {"a": "1"}))["projectId"]
    for bad in ("abc", "-3", "1e5", "12;DROP"):
        r = httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress/stream",
                      headers={"Last-Event-ID": bad})
        assert r.status_code == 400, bad
        assert "Last-Event-ID" in r.json()["detail"]
    r = httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress/stream",
                  params={"snapshotId": "../x"})
    assert r.status_code == 400
    # the same folder twice is a conflict that names the existing project
    r = httpx.post(agent.url + "/api/v1/projects", json={"localPath": str(tmp_path / "t")})
    assert r.status_code == 409 and r.json()["projectId"] == pid


def test_foreign_host_header_is_refused(agent: AgentProcess) -> None:
    r = httpx.get(agent.url + "/api/v1/health", headers={"Host": "evil.example:5001"})
    assert r.status_code == 403 and "Host header" in r.json()["detail"]
    assert httpx.get(agent.url + "/api/v1/health",
                     headers={"Host": f"localhost:{agent.port}"}).status_code == 200
    r = httpx.options(agent.url + "/api/v1/projects",
                      headers={"Origin": "https://evil.example",
                               "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_projects_list_get_delete_and_openapi(agent: AgentProcess, tmp_path: Path) -> None:
    pid = create(agent, make_tree(tmp_path / "t", {"a": "1"}), snapshot=True)["projectId"]
    wait_finished(agent, pid)
    listed = httpx.get(agent.url + "/api/v1/projects").json()["projects"]
    assert [p["projectId"] for p in listed] == [pid]
    assert listed[0]["latestSnapshot"]["state"] == "completed"
    assert listed[0]["progress"]["step"] == "completed"
    one = httpx.get(f"{agent.url}/api/v1/projects/{pid}").json()
    assert one["localPath"] == str(tmp_path / "t")
    spec = httpx.get(agent.url + "/openapi.json").json()
    assert "/api/v1/projects/{projectId}/progress/stream" in spec["paths"]
    manifest = Path(urlparse(listed[0]["latestSnapshot"]["snapshotUrl"]).path)
    assert manifest.is_file()
    assert httpx.delete(f"{agent.url}/api/v1/projects/{pid}").status_code == 204
    assert httpx.get(f"{agent.url}/api/v1/projects/{pid}").status_code == 404
    assert httpx.get(agent.url + "/api/v1/projects").json()["projects"] == []
    # its stored manifests go too: nothing could reach them any more
    wait_until(lambda: not manifest.exists())
    assert (tmp_path / "t" / "a").is_file()  # the folder itself is not touched


def test_heartbeat_comment_keeps_an_idle_stream_alive(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_SSE_HEARTBEAT="0.2")
    pid = create(agent, make_tree(tmp_path / "t", {"a": "1"}))["projectId"]
    lines: list[str] = []
    with httpx.stream("GET", f"{agent.url}/api/v1/projects/{pid}/progress/stream",
                      timeout=10) as r:
        for line in r.iter_lines():
            lines.append(line)
            if lines.count(": ping") >= 2:
                break
    assert lines[0].startswith("retry: ")
    assert lines.count(": ping") == 2


def test_metrics_count_snapshots_and_subscribers(agent: AgentProcess, tmp_path: Path) -> None:
    pid = create(agent, make_tree(tmp_path / "t", {"a": "1"}), snapshot=True)["projectId"]
    wait_finished(agent, pid)
    # The terminal event reaches the stream before the metrics' listener counts it.
    wait_until(lambda: "vidsync_snapshots_running 0" in httpx.get(agent.url + "/metrics").text)
    text = httpx.get(agent.url + "/metrics").text
    assert 'vidsync_snapshots{state="completed"} 1' in text
    assert "vidsync_projects 1" in text
    assert "vidsync_snapshots_running 0" in text
    events = [ln for ln in text.splitlines() if ln.startswith("vidsync_progress_events_total")]
    assert float(events[0].split()[1]) >= 6


def test_syncthing_source_without_syncthing_is_a_clear_400(
    agent: AgentProcess, tmp_path: Path
) -> None:
    r = httpx.post(agent.url + "/api/v1/projects",
                   json={"localPath": str(make_tree(tmp_path / "t", {"a": "1"})),
                         "source": "syncthing"})
    assert r.status_code == 400 and r.json()["field"] == "source"
    assert "VIDSYNC_SYNCTHING_URL" in r.json()["detail"]
    assert httpx.get(agent.url + "/api/v1/projects").json()["projects"] == []


def test_api_key_is_required_when_set(agent_factory: AgentFactory) -> None:
    key = "s3cret-long-enough-key"
    agent = agent_factory(VIDSYNC_API_KEY=key)
    r = httpx.get(agent.url + "/api/v1/projects")
    assert r.status_code == 401 and "API key" in r.json()["detail"]
    assert httpx.get(agent.url + "/api/v1/projects",
                     headers={"X-API-Key": "wrong"}).status_code == 401
    assert httpx.get(agent.url + "/api/v1/projects",
                     headers={"X-API-Key": key}).status_code == 200
    assert httpx.get(agent.url + "/api/v1/projects",
                     headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert httpx.get(agent.url + "/api/v1/projects",
                     params={"apiKey": key}).status_code == 200
    assert httpx.get(agent.url + "/metrics").status_code == 401
    assert httpx.get(agent.url + "/api/v1/health").status_code == 200


def test_stream_for_an_older_finished_snapshot_ends_with_its_stored_state(
    agent: AgentProcess, tmp_path: Path
) -> None:
    pid = create(agent, make_tree(tmp_path / "t", {"a": "1"}))["projectId"]
    stream = f"{agent.url}/api/v1/projects/{pid}/progress/stream"
    first = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot").json()["snapshotId"]
    read_stream(stream, params={"snapshotId": first})
    second = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot").json()["snapshotId"]
    read_stream(stream, params={"snapshotId": second})
    # the first one is no longer the project's state: the stream must not wait forever
    old = read_stream(stream, params={"snapshotId": first}, timeout=10)
    assert [(e["snapshotId"], e["step"]) for _, e in old.events] == [(first, "completed")]
    again = read_stream(stream, params={"snapshotId": first},
                        headers={"Last-Event-ID": str(old.ids[0])})
    assert again.status == 204
    unknown = read_stream(stream, params={"snapshotId": "snap-nope"})
    assert unknown.status == 404
