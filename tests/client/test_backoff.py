"""The reconnect schedule and the polling fallback, on a fake clock (no real waiting)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from vidsync.client import (
    AsyncAgentClient,
    Backoff,
    ClientConfig,
    ConnectionState,
    ConnectionStatus,
    ProgressClient,
)
from vidsync.clock import FakeClock

PID = "proj-fake"
SID = "snap-fake"


def event(id_: int, step: str = "browsing", number: int = 3, **extra: Any) -> dict[str, Any]:
    return {
        "projectId": PID, "snapshotId": SID, "step": step, "stepNumber": number,
        "progress": 20, "message": step, "timestamp": "2026-11-29T03:00:00.000Z", "id": id_,
        **extra,
    }


class FakeTime:
    """A sleep that moves a fake clock instead of waiting."""

    def __init__(self) -> None:
        self.clock = FakeClock()

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await anyio.lowlevel.checkpoint()


def test_schedule_is_1_2_4_8_15_30_then_capped_with_jitter() -> None:
    steady = Backoff(random=lambda: 0.5)
    assert [steady.delay(n) for n in range(8)] == [1, 2, 4, 8, 15, 30, 30, 30]
    assert Backoff(random=lambda: 0.0).delay(2) == pytest.approx(4 * 0.8)
    assert Backoff(random=lambda: 1.0).delay(2) == pytest.approx(4 * 1.2)
    assert Backoff(base=0.5).nominal(5) == 15


@pytest.mark.anyio
async def test_failing_stream_backs_off_polls_from_the_first_failure_and_returns_to_sse() -> None:
    time = FakeTime()
    start = time.clock.monotonic()
    attempts: list[tuple[float, str | None]] = []
    polls: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        now = time.clock.monotonic() - start
        if request.url.path.endswith("/progress/stream"):
            attempts.append((now, request.headers.get("last-event-id")))
            if now < 90:
                raise httpx.ConnectError("connection refused", request=request)
            body = "".join(
                f"id: {e['id']}\ndata: {json.dumps(e)}\n\n"
                for e in (event(4), event(5, "completed", 6, progress=100))
            )
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=body.encode()
            )
        if request.url.path.endswith("/progress"):
            polls.append(now)
            return httpx.Response(200, json=event(3))
        return httpx.Response(404, json={"detail": "not here"})

    statuses: list[ConnectionStatus] = []
    async with AsyncAgentClient("http://agent.test", transport=httpx.MockTransport(handle)) as api:
        client = ProgressClient(
            api, PID, snapshot_id=SID,
            config=ClientConfig(poll_interval=1.0, heartbeat=15, retry=1.0),
            backoff=Backoff(random=lambda: 0.5),  # no jitter: exact delays
            clock=time.clock, sleep=time.sleep, on_state=statuses.append,
        )
        with anyio.fail_after(10):  # real seconds; the fake clock runs far ahead
            events = [e async for e in client]

    times = [t for t, _ in attempts]
    assert [b - a for a, b in itertools.pairwise(times)] == [1, 2, 4, 8, 15, 30, 30]
    # polling began with the first failed attempt and kept the configured pace
    assert polls[0] == times[0]
    assert all(b - a == 1.0 for a, b in itertools.pairwise(polls))
    assert polls[-1] < times[-1]
    # the SSE attempt after polling resumed from the polled event
    assert attempts[-1][1] == "3"
    assert [(e.id, e.step.value) for e in events] == [(3, "browsing"), (4, "browsing"),
                                                        (5, "completed")]
    states = [(s.state, s.polling) for s in statuses]
    assert states[0] == (ConnectionState.RECONNECTING, True)
    assert states[-2:] == [(ConnectionState.CONNECTED, False),
                           (ConnectionState.DISCONNECTED, False)]
    assert [s.failures for s in statuses[:5]] == [1, 2, 3, 4, 5]
    assert client.finished and client.state is ConnectionState.DISCONNECTED


@pytest.mark.anyio
async def test_poll_with_a_gap_is_marked_resync_and_other_snapshots_are_ignored() -> None:
    time = FakeTime()
    answers = iter([
        event(7, snapshotId="snap-older", step="completed", stepNumber=6),
        event(2), event(2), event(9, "failed", 3, error="boom"),
    ])

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/progress/stream"):
            return httpx.Response(503, json={"detail": "down"})
        return httpx.Response(200, json=next(answers))

    async with AsyncAgentClient("http://agent.test", transport=httpx.MockTransport(handle)) as api:
        client = ProgressClient(api, PID, snapshot_id=SID, backoff=Backoff(random=lambda: 0.5),
                                config=ClientConfig(poll_interval=1.0),
                                clock=time.clock, sleep=time.sleep)
        with anyio.fail_after(10):
            last = await client.run()
    assert last is not None and (last.id, last.step.value, last.resync) == (9, "failed", True)
    assert client.last_event_id == 9


@pytest.mark.anyio
async def test_204_ends_at_once_and_404_raises_a_typed_error() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if "proj-gone" in request.url.path:
            return httpx.Response(404, json={"detail": "no project proj-gone"})
        return httpx.Response(204)

    from vidsync.client import NotFoundError

    async with AsyncAgentClient("http://agent.test", transport=httpx.MockTransport(handle)) as api:
        done = ProgressClient(api, PID, last_event_id=12)
        assert await done.run() is None
        assert done.finished and done.state is ConnectionState.DISCONNECTED
        with pytest.raises(NotFoundError) as info:
            await ProgressClient(api, "proj-gone").run()
        assert info.value.status == 404 and info.value.detail == "no project proj-gone"


def test_schedule_comes_from_the_agent_config_with_the_same_defaults_as_fallback() -> None:
    served = ClientConfig.from_json({
        "pollIntervalMs": 500, "heartbeatSeconds": 15.0, "retryMs": 1000,
        "backoff": {"delaysMs": [500, 1000, 3000], "jitter": 0.1},
    })
    assert served.backoff_delays == (0.5, 1.0, 3.0) and served.backoff_jitter == 0.1
    backoff = Backoff.from_config(served, random=lambda: 1.0)
    assert backoff.schedule(5) == pytest.approx([0.55, 1.1, 3.3, 3.3, 3.3])
    # an agent from before the schedule was served: 1, 2, 4, 8, 15, 30 s
    old = Backoff.from_config(ClientConfig.from_json({"retryMs": 1000}), random=lambda: 0.5)
    assert old.schedule(7) == [1, 2, 4, 8, 15, 30, 30]
    assert Backoff.from_config(ClientConfig(), random=lambda: 0.5).schedule(7) == old.schedule(7)
