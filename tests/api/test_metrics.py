"""/metrics (prometheus-client) against real agent processes: values move with real actions."""

from __future__ import annotations

import shutil
import threading
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.agent import AgentFactory, AgentProcess, free_port, wait_until
from support.sse import read_stream
from support.trees import make_flat_tree, make_tree
from vidsync.client import (
    AsyncAgentClient,
    Backoff,
    ConnectionState,
    ConnectionStatus,
    ProgressClient,
)
from vidsync.client.telemetry import FallbackReporter

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(agent: AgentProcess) -> Samples:
    r = httpx.get(agent.url + "/metrics")
    assert r.status_code == 200, r.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape_when_ended(agent: AgentProcess, state: str, step: str, count: int = 1) -> Samples:
    """/metrics once the last end is counted: the publisher shows an event to the
    streams first, then calls the listeners that count it."""

    def counted() -> bool:
        samples = scrape(agent)
        return (value(samples, "vidsync_snapshots_ended_total", state=state, step=step) == count
                and value(samples, "vidsync_snapshots_running") == 0)

    wait_until(counted)
    return scrape(agent)


def create(agent: AgentProcess, path: Path) -> str:
    r = httpx.post(agent.url + "/api/v1/projects", json={"name": path.name, "localPath": str(path)})
    assert r.status_code == 201, r.text
    return str(r.json()["projectId"])


def snapshot(agent: AgentProcess, pid: str) -> dict:  # type: ignore[type-arg]
    """Start a snapshot and read its whole stream; the last event."""
    r = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot")
    assert r.status_code == 202, r.text
    result = read_stream(
        f"{agent.url}/api/v1/projects/{pid}/progress/stream",
        params={"snapshotId": r.json()["snapshotId"]},
    )
    return result.events[-1][1]


def test_a_snapshot_counts_its_steps_durations_and_outcome(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.0005")
    before = scrape(agent)
    assert value(before, "vidsync_snapshots_running") == 0
    assert value(before, "vidsync_projects") == 0
    pid = create(agent, make_flat_tree(tmp_path / "tree", 200, per_dir=20))
    assert snapshot(agent, pid)["step"] == "completed"
    after = scrape_when_ended(agent, "completed", "6")
    for step in ("1", "2", "3", "4", "5"):
        assert value(after, "vidsync_snapshot_steps_started_total", step=step) == 1, step
        count = value(after, "vidsync_snapshot_step_duration_seconds_count", step=step)
        assert count == 1, step
    # browsing 200 throttled files takes a measurable time
    assert value(after, "vidsync_snapshot_step_duration_seconds_sum", step="3") > 0
    assert value(after, "vidsync_snapshots_ended_total", state="completed", step="6") == 1
    assert value(after, "vidsync_snapshots_ended_total", state="failed", step="3") == 0
    assert value(after, "vidsync_snapshots_running") == 0
    assert value(after, "vidsync_projects") == 1
    assert value(after, "vidsync_snapshots", state="completed") == 1
    events = value(after, "vidsync_progress_events_total")
    assert events >= 6


def test_running_snapshots_gauge_rises_while_one_runs(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.01")
    pid = create(agent, make_flat_tree(tmp_path / "tree", 300, per_dir=30))
    r = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot")
    assert r.status_code == 202
    wait_until(lambda: value(scrape(agent), "vidsync_snapshots_running") == 1)
    assert httpx.delete(f"{agent.url}/api/v1/projects/{pid}/snapshot").status_code in (200, 202)
    wait_until(lambda: value(scrape(agent), "vidsync_snapshots_running") == 0)
    samples = scrape(agent)
    cancelled = [
        labels for (name, labels), v in samples.items()
        if name == "vidsync_snapshots_ended_total" and ("state", "cancelled") in labels and v == 1
    ]
    assert len(cancelled) == 1


def test_failures_are_counted_at_the_step_that_failed(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    # Step 5 fails: the local store's folder cannot be made under a regular file.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    agent = agent_factory(VIDSYNC_STORAGE_URL=f"file://{blocker}/snapshots")
    upload_fails = create(agent, make_tree(tmp_path / "a", {"x": "1"}))
    end = snapshot(agent, upload_fails)
    assert (end["step"], end["stepNumber"]) == ("failed", 5)
    # Step 1 fails: the folder is gone.
    vanished = make_tree(tmp_path / "b", {"y": "2"})
    gone = create(agent, vanished)
    shutil.rmtree(vanished)
    end = snapshot(agent, gone)
    assert (end["step"], end["stepNumber"]) == ("failed", 1)

    samples = scrape_when_ended(agent, "failed", "1")
    assert value(samples, "vidsync_snapshots_ended_total", state="failed", step="5") == 1
    assert value(samples, "vidsync_snapshots_ended_total", state="failed", step="1") == 1
    assert value(samples, "vidsync_snapshots_ended_total", state="completed", step="6") == 0
    # error rate per step = failed / started
    assert value(samples, "vidsync_snapshot_steps_started_total", step="1") == 2
    assert value(samples, "vidsync_snapshot_steps_started_total", step="5") == 1
    assert value(samples, "vidsync_snapshots", state="failed") == 2


def test_stream_outcomes_are_counted(agent: AgentProcess, tmp_path: Path) -> None:
    pid = create(agent, make_tree(tmp_path / "t", {"a": "1"}))
    stream = f"{agent.url}/api/v1/projects/{pid}/progress/stream"
    last = snapshot(agent, pid)  # one stream opened, read to its end
    mid = read_stream(stream, headers={"Last-Event-ID": str(last["id"] - 2)})
    assert len(mid.events) == 2
    assert read_stream(stream, headers={"Last-Event-ID": str(last["id"])}).status == 204
    assert read_stream(stream, params={"lastEventId": "nope"}).status == 400
    assert read_stream(f"{agent.url}/api/v1/projects/nope/progress/stream").status == 404
    # an id this agent never issued: the full state comes back marked resync
    resync = read_stream(stream, headers={"Last-Event-ID": str(last["id"] + 50)})
    assert [e.get("resync") for _, e in resync.events] == [True]

    samples = scrape(agent)
    outcomes = {
        outcome: value(samples, "vidsync_sse_connections_total", stream="project", outcome=outcome)
        for outcome in ("opened", "resumed", "finished", "refused")
    }
    assert outcomes == {"opened": 1, "resumed": 2, "finished": 1, "refused": 2}
    assert value(samples, "vidsync_sse_resyncs_total") == 1
    assert value(samples, "vidsync_progress_subscribers") == 0


def test_open_streams_gauge_follows_clients(agent: AgentProcess) -> None:
    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", agent.url + "/api/v1/progress/stream") as response,
    ):
        assert response.status_code == 200
        samples = scrape(agent)
        assert value(samples, "vidsync_progress_subscribers") == 1
        assert value(samples, "vidsync_sse_connections_total", stream="all", outcome="opened") == 1
    # the client hung up: the agent notices and the gauge goes down
    wait_until(lambda: value(scrape(agent), "vidsync_progress_subscribers") == 0)


def test_latency_is_observed_for_live_events_only(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.0005")
    pid = create(agent, make_flat_tree(tmp_path / "tree", 100, per_dir=20))
    box: dict = {}  # type: ignore[type-arg]
    opened = threading.Event()
    stream = f"{agent.url}/api/v1/projects/{pid}/progress/stream"
    reader = threading.Thread(
        target=lambda: box.setdefault("r", read_stream(stream, opened=opened))
    )
    reader.start()
    assert opened.wait(10)
    assert httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot").status_code == 202
    reader.join(60)
    live = len(box["r"].events)
    assert live >= 6
    samples = scrape(agent)
    assert value(samples, "vidsync_progress_event_latency_seconds_count") == live
    assert value(samples, "vidsync_progress_event_latency_seconds_sum") >= 0
    # the retained terminal state, sent to a late subscriber, is not a live event
    assert len(read_stream(stream).events) == 1
    samples = scrape(agent)
    assert value(samples, "vidsync_progress_event_latency_seconds_count") == live


def test_client_reports_feed_fallback_histogram_and_error_counter(agent: AgentProcess) -> None:
    url = agent.url + "/api/v1/client-metrics"
    for seconds in (1.8, 3.0):
        r = httpx.post(url, json={"kind": "fallback", "seconds": seconds, "client": "web"})
        assert r.status_code == 204, r.text
    assert httpx.post(url, json={"kind": "fallback", "seconds": 0.5,
                                 "client": "python"}).status_code == 204
    assert httpx.post(url, json={"kind": "sse-error", "client": "python"}).status_code == 204
    samples = scrape(agent)
    assert value(samples, "vidsync_client_fallback_seconds_count", client="web") == 2
    assert value(samples, "vidsync_client_fallback_seconds_sum", client="web") == pytest.approx(4.8)
    assert value(samples, "vidsync_client_fallback_seconds_bucket", client="web", le="2.0") == 1
    assert value(samples, "vidsync_client_fallback_seconds_count", client="python") == 1
    assert value(samples, "vidsync_client_sse_errors_total", client="python") == 1


BAD_REPORTS: list[tuple[object, str | None]] = [
    ({"kind": "fallback", "seconds": -1, "client": "web"}, "seconds"),
    ({"kind": "fallback", "seconds": 1e9, "client": "web"}, "seconds"),
    ({"kind": "fallback", "client": "web"}, "seconds"),
    ({"kind": "fallback", "seconds": "soon", "client": "web"}, "seconds"),
    ({"kind": "fallback", "seconds": 1, "client": "curl"}, "client"),
    ({"kind": "sse-error", "client": "web", "extra": 1}, "extra"),
    ({"kind": "explode", "client": "web"}, "kind"),
    ([1, 2], None),
    ("fallback", None),
]


def test_bad_client_reports_are_a_clear_4xx_and_count_nothing(agent: AgentProcess) -> None:
    url = agent.url + "/api/v1/client-metrics"
    for body, field in BAD_REPORTS:
        r = httpx.post(url, json=body)
        assert r.status_code == 422, (body, r.text)
        detail = r.json()["detail"]
        assert isinstance(detail, str) and detail
        if field is not None:
            assert field in detail, (body, detail)
    r = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    samples = scrape(agent)
    for client in ("web", "python", "cli", "curl"):
        assert value(samples, "vidsync_client_fallback_seconds_count", client=client) == 0
        assert value(samples, "vidsync_client_sse_errors_total", client=client) == 0


def test_metrics_add_up_across_processes_sharing_a_multiprocess_dir(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    shared = tmp_path / "prom"
    shared.mkdir()
    data = tmp_path / "data"
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared), "VIDSYNC_THROTTLE": "0.01"}
    one = agent_factory(data, **env)
    two = agent_factory(data, **env)
    a = create(one, make_tree(tmp_path / "a", {"x": "1"}))
    b = create(two, make_flat_tree(tmp_path / "b", 300, per_dir=30))
    assert snapshot(one, a)["step"] == "completed"
    url = f"{two.url}/api/v1/client-metrics"
    report = {"kind": "fallback", "seconds": 2, "client": "web"}
    assert httpx.post(url, json=report).status_code == 204
    # a long snapshot runs in the second process while the first one answers the scrape
    assert httpx.post(f"{two.url}/api/v1/projects/{b}/snapshot").status_code == 202
    wait_until(lambda: value(scrape(one), "vidsync_snapshots_running") == 1)
    assert httpx.delete(f"{two.url}/api/v1/projects/{b}/snapshot").status_code in (200, 202)
    wait_until(lambda: value(scrape(one), "vidsync_snapshots_running") == 0)

    for agent in (one, two):
        samples = scrape(agent)
        assert value(samples, "vidsync_snapshot_steps_started_total", step="1") == 2
        assert value(samples, "vidsync_snapshots_ended_total", state="completed", step="6") == 1
        assert value(samples, "vidsync_sse_connections_total", stream="project",
                     outcome="opened") == 1
        assert value(samples, "vidsync_client_fallback_seconds_count", client="web") == 1
        # read from the shared database once, not once per process
        assert value(samples, "vidsync_projects") == 2
    # a stopped process's counters still count
    two.stop()
    assert value(scrape(one), "vidsync_snapshot_steps_started_total", step="1") == 2


class BrokenStream(httpx.AsyncBaseTransport):
    """In front of the real agent: the stream route answers 503, the rest goes through."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/progress/stream"):
            return httpx.Response(503, json={"detail": "stream route broken"})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.anyio
async def test_python_client_reports_its_fallback_to_polling(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.002", VIDSYNC_PROGRESS_POLL_INTERVAL="50")
    tree = make_flat_tree(tmp_path / "tree", 300, per_dir=30)
    statuses: list[ConnectionStatus] = []
    async with AsyncAgentClient(agent.url, transport=BrokenStream()) as api:
        started = await api.create_project_with_snapshot(tree)
        client = await ProgressClient.create(
            api, started["projectId"], snapshot_id=started["snapshotId"],
            backoff=Backoff(base=0.01), on_state=statuses.append,
        )
        with anyio.fail_after(60):
            events = [e async for e in client]
    assert events[-1].step.value == "completed"
    lost = [s for s in statuses if s.state is ConnectionState.RECONNECTING]
    failed_before_polling = next(i for i, s in enumerate(lost) if s.polling) + 1

    def reported() -> bool:
        samples = scrape(agent)
        return value(samples, "vidsync_client_fallback_seconds_count", client="python") == 1

    await anyio.to_thread.run_sync(wait_until, reported)
    samples = scrape(agent)
    assert value(samples, "vidsync_client_sse_errors_total", client="python") == (
        failed_before_polling
    )
    seconds = value(samples, "vidsync_client_fallback_seconds_sum", client="python")
    assert 0 < seconds < 60
    # the proxy refused the stream: only the client's report tells the agent
    assert value(samples, "vidsync_sse_connections_total", stream="project", outcome="refused") == 0


def test_a_report_that_cannot_be_sent_is_dropped_quietly() -> None:
    gone = SimpleNamespace(
        base_url=f"http://127.0.0.1:{free_port()}", http=SimpleNamespace(headers=httpx.Headers())
    )
    reporter = FallbackReporter(gone)
    reporter._post(reporter.reports(1.0, 2))  # nobody listens: no exception, no output


def parse_time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_time_queued_in_a_batch_is_no_step_time(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.002", VIDSYNC_BATCH_CONCURRENCY="1")
    pids = [create(agent, make_flat_tree(tmp_path / f"t{i}", 200, per_dir=20)) for i in range(3)]
    r = httpx.post(agent.url + "/api/v1/snapshots/batch", json={"projectIds": pids})
    assert r.status_code in (200, 202), r.text
    assert len(r.json()["queued"]) == 2

    def all_ended() -> bool:
        samples = scrape(agent)
        return value(samples, "vidsync_snapshots_ended_total", state="completed", step="6") == 3

    wait_until(all_ended, timeout=60)
    samples = scrape(agent)
    assert value(samples, "vidsync_snapshot_steps_started_total", step="1") == 3
    assert value(samples, "vidsync_snapshot_step_duration_seconds_count", step="1") == 3
    # Two of them waited for a slot (one for one snapshot, one for two). Counted
    # as step 1 (checking the folder), that wait would make step 1's total at
    # least the waits; its own work is a small part of it, whatever the load.
    waited = 0.0
    for item in r.json()["queued"]:
        log = httpx.get(
            f"{agent.url}/api/v1/projects/{item['projectId']}/snapshots/{item['snapshotId']}/events"
        ).json()["events"]
        assert log[0]["queued"] is True
        checking_starts = next(e for e in log if not e["queued"])
        waited += parse_time(checking_starts["timestamp"]) - parse_time(log[0]["timestamp"])
    checking = value(samples, "vidsync_snapshot_step_duration_seconds_sum", step="1")
    assert 0 < checking < waited
    assert value(samples, "vidsync_snapshot_step_duration_seconds_count", step="0") == 0


def test_a_missing_multiprocess_dir_stops_the_agent_with_a_clear_message(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match=r"PROMETHEUS_MULTIPROC_DIR=.*is not a directory"):
        agent_factory(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "missing"))
