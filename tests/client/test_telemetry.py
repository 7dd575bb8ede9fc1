"""FallbackReporter's rules on a fake clock: one report per outage, the failed attempts
before polling, and nothing at all for an agent object without a URL."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx

from vidsync.client import ConnectionState, ConnectionStatus
from vidsync.client.telemetry import FallbackReporter
from vidsync.clock import FakeClock

RECONNECTING, CONNECTED = ConnectionState.RECONNECTING, ConnectionState.CONNECTED


class Recording(FallbackReporter):
    def __init__(self, agent: object, clock: FakeClock) -> None:
        super().__init__(agent, clock=clock)
        self.sent: list[list[dict[str, Any]]] = []

    def _send(self, bodies: list[dict[str, Any]]) -> None:
        self.sent.append(bodies)


def agent(key: str | None = None) -> SimpleNamespace:
    headers = httpx.Headers({"X-API-Key": key} if key else {})
    return SimpleNamespace(base_url="http://127.0.0.1:9/", http=SimpleNamespace(headers=headers))


def test_one_report_per_outage_with_the_failed_attempts_before_polling() -> None:
    clock = FakeClock()
    reporter = Recording(agent(), clock)
    reporter(ConnectionStatus(CONNECTED))
    clock.advance(10)
    reporter(ConnectionStatus(RECONNECTING, failures=0, reason="the stream ended"))
    clock.advance(1)
    reporter(ConnectionStatus(RECONNECTING, failures=1))
    clock.advance(2.5)
    reporter(ConnectionStatus(RECONNECTING, polling=True, failures=2))
    reporter(ConnectionStatus(RECONNECTING, polling=True, failures=3))  # still polling
    error = {"kind": "sse-error", "client": "python"}
    assert reporter.sent == [[error] * 3 + [{"kind": "fallback", "client": "python",
                                             "seconds": 3.5}]]
    reporter(ConnectionStatus(CONNECTED))  # back: the next outage is a new one
    clock.advance(100)
    reporter(ConnectionStatus(RECONNECTING, polling=True, failures=1))
    assert reporter.sent[1] == [error, {"kind": "fallback", "client": "python", "seconds": 0.0}]


def test_reports_go_to_the_agent_with_its_key_or_nowhere() -> None:
    clock = FakeClock()
    keyed = Recording(agent("s3cret"), clock)
    assert keyed._url == "http://127.0.0.1:9/api/v1/client-metrics"
    assert keyed._headers == {"X-API-Key": "s3cret"}
    nowhere = FallbackReporter(object(), clock=clock)
    nowhere(ConnectionStatus(RECONNECTING, polling=True, failures=1))  # no URL: no thread, no error
    assert nowhere._url is None
