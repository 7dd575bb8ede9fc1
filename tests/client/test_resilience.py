"""ProgressClient against real servers: an agent killed and restarted, a broken
stream route, and a server that goes silent."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import anyio
import httpx
import pytest
from anyio.abc import SocketStream

from support.agent import AgentFactory
from support.trees import make_flat_tree
from vidsync.client import (
    AsyncAgentClient,
    Backoff,
    ClientConfig,
    ConnectionState,
    ConnectionStatus,
    ProgressClient,
)
from vidsync.models import ProgressEvent


def assert_each_id_once(events: list[ProgressEvent]) -> None:
    """Ids rise; a gap is allowed only where the event says it is a resync."""
    for before, after in itertools.pairwise(events):
        assert after.id > before.id, [e.id for e in events]
        assert after.id == before.id + 1 or after.resync, [(e.id, e.resync) for e in events]


@pytest.mark.anyio
async def test_agent_killed_mid_snapshot_and_restarted_client_resumes_to_the_end(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    agent = agent_factory(data_dir=data, VIDSYNC_THROTTLE="0.005")
    tree = make_flat_tree(tmp_path / "tree", 2000)
    events: list[ProgressEvent] = []
    statuses: list[ConnectionStatus] = []
    three = anyio.Event()

    def on_event(event: ProgressEvent) -> None:
        events.append(event)
        if len(events) >= 3:
            three.set()

    async with AsyncAgentClient(agent.url) as api:
        started = await api.create_project_with_snapshot(tree)
        client = await ProgressClient.create(
            api, started["projectId"], snapshot_id=started["snapshotId"],
            backoff=Backoff(base=0.05), on_event=on_event, on_state=statuses.append,
        )
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.run)
                await three.wait()
                agent.kill()
                await anyio.to_thread.run_sync(
                    lambda: agent_factory(data_dir=data, port=agent.port)
                )
        history = await api.list_snapshots(started["projectId"])

    assert_each_id_once(events)
    final = events[-1]
    assert (final.step.value, final.error) == ("failed", "interrupted: the agent stopped")
    assert {e.snapshot_id for e in events} == {started["snapshotId"]}
    assert ConnectionState.RECONNECTING in [s.state for s in statuses]
    lost = [s for s in statuses if s.state is ConnectionState.RECONNECTING]
    assert all(s.describe().startswith("reconnecting") for s in lost)  # it was connected
    assert client.state is ConnectionState.DISCONNECTED
    assert history[0]["state"] == "failed"


class BrokenStream(httpx.AsyncBaseTransport):
    """In front of the real agent: the stream route answers 500, the rest goes through."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.stream_attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/progress/stream"):
            self.stream_attempts += 1
            return httpx.Response(500, json={"detail": "stream route broken"})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.anyio
async def test_broken_stream_route_falls_back_to_polling_and_gets_the_terminal_state(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.002", VIDSYNC_PROGRESS_POLL_INTERVAL="50")
    tree = make_flat_tree(tmp_path / "tree", 600)
    proxy = BrokenStream()
    statuses: list[ConnectionStatus] = []
    async with AsyncAgentClient(agent.url, transport=proxy) as api:
        started = await api.create_project_with_snapshot(tree)
        client = await ProgressClient.create(
            api, started["projectId"], snapshot_id=started["snapshotId"],
            backoff=Backoff(base=0.01), on_state=statuses.append,
        )
        assert client.config.poll_interval == 0.05  # from the agent's /api/v1/config
        with anyio.fail_after(60):
            events = [e async for e in client]
    assert events[-1].step.value == "completed"
    assert_each_id_once(events)
    assert proxy.stream_attempts >= 3  # the stream is still tried while polling
    assert any(s.polling for s in statuses)
    assert "500" in (statuses[0].reason or "")
    # The stream never opened: nothing was lost, so the line says "connecting".
    retrying = [s for s in statuses if s.state is ConnectionState.RECONNECTING]
    assert retrying and all(s.describe().startswith("connecting") for s in retrying)
    assert retrying[-1].describe().endswith("(polling)")


@pytest.mark.anyio
async def test_silent_server_is_left_after_two_heartbeat_intervals() -> None:
    """The first connection sends an event and pings for a while, then nothing; the
    client must treat it as dead and come back with Last-Event-ID."""
    # Pings every heartbeat / 4 s, 4 s of them: twice the silence limit, and a
    # loaded machine would have to stall this loop 1.75 s to miss one in time.
    heartbeat = 1.0
    pings = 16
    seen_ids: list[str | None] = []
    pings_done = anyio.Event()
    order: list[str] = []

    def frame(id_: int, step: str, number: int) -> bytes:
        data = {"projectId": "proj-h", "step": step, "stepNumber": number, "progress": 10,
                "message": step, "timestamp": "2026-11-29T03:00:00.000Z", "id": id_}
        return f"id: {id_}\ndata: {json.dumps(data)}\n\n".encode()

    async def handle(conn: SocketStream) -> None:
        async with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += await conn.receive()
            headers = dict(
                line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if ": " in line
            )
            seen_ids.append({k.lower(): v for k, v in headers.items()}.get("last-event-id"))
            order.append("connect")
            head = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"cache-control: no-store\r\nconnection: close\r\n\r\n")
            try:
                if len(seen_ids) == 1:
                    await conn.send(head + b"retry: 1000\n\n" + frame(1, "browsing", 3))
                    for _ in range(pings):
                        await anyio.sleep(heartbeat / 4)
                        await conn.send(b": ping\n\n")
                    order.append("pings done")
                    pings_done.set()
                    await anyio.sleep_forever()  # half-open: the socket stays, nothing comes
                else:
                    await conn.send(head + frame(2, "completed", 6))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass

    statuses: list[ConnectionStatus] = []
    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1") as listener,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(listener.serve, handle)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with AsyncAgentClient(f"http://127.0.0.1:{port}") as api:
            client = ProgressClient(
                api, "proj-h", config=ClientConfig(heartbeat=heartbeat, retry=0.05),
                backoff=Backoff(base=0.05), on_state=statuses.append,
            )
            with anyio.fail_after(20):
                events = [e async for e in client]
        tg.cancel_scope.cancel()

    assert [e.id for e in events] == [1, 2]
    assert seen_ids == [None, "1"]
    # pings kept the first connection alive; only the silence after them ended it
    assert order == ["connect", "pings done", "connect"]
    lost = [s for s in statuses if s.state is ConnectionState.RECONNECTING]
    assert len(lost) == 1 and "two heartbeat intervals" in (lost[0].reason or "")
