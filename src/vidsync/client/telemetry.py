"""The client's side of the agent's link metrics: how long it took to fall back to polling.

A :class:`FallbackReporter` follows a progress client's connection states. When
the client starts polling, it tells the agent (``POST /api/v1/client-metrics``)
how many seconds passed since it saw its stream lost or refused, and how many
stream attempts failed on the way. The reports go out from a short-lived
daemon thread, fire-and-forget: a failed report is dropped and never disturbs
the client. Reports wait for polling because polling is when the agent is
known to answer again.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Protocol

import httpx

from vidsync.clock import Clock, SystemClock

PATH = "/api/v1/client-metrics"
TIMEOUT = 2.0
MAX_ERRORS_PER_REPORT = 50


class _Status(Protocol):
    @property
    def state(self) -> str: ...

    @property
    def polling(self) -> bool: ...


class FallbackReporter:
    """A state callback for a progress client: ``client.add_state_callback(reporter)``."""

    def __init__(self, agent: object, *, client: str = "python", clock: Clock | None = None):
        """``agent``: an ``AsyncAgentClient`` (its ``base_url`` and API key are used);
        anything without a ``base_url`` turns the reports off."""
        base_url = getattr(agent, "base_url", None)
        self._url = base_url.rstrip("/") + PATH if isinstance(base_url, str) else None
        headers = getattr(getattr(agent, "http", None), "headers", None) or {}
        key = headers.get("X-API-Key")
        self._headers = {"X-API-Key": key} if key else {}
        self._client = client
        self._clock = clock or SystemClock()
        self._lost_at: float | None = None
        self._errors = 0
        self._reported = False

    def __call__(self, status: _Status) -> None:
        if status.state == "connected":
            self._lost_at, self._errors, self._reported = None, 0, False
        elif status.state == "reconnecting":
            if self._lost_at is None:
                self._lost_at = self._clock.monotonic()
            if not status.polling:
                self._errors += 1
            elif not self._reported:
                self._errors += 1  # the attempt whose failure started the polling
                self._reported = True
                seconds = self._clock.monotonic() - self._lost_at
                self._send(self.reports(seconds, self._errors))

    def reports(self, seconds: float, errors: int) -> list[dict[str, Any]]:
        """The bodies for one fallback after ``errors`` failed attempts."""
        error = {"kind": "sse-error", "client": self._client}
        fallback = {"kind": "fallback", "client": self._client, "seconds": max(0.0, seconds)}
        return [error] * min(errors, MAX_ERRORS_PER_REPORT) + [fallback]

    def _send(self, bodies: list[dict[str, Any]]) -> None:
        if self._url is None:
            return
        threading.Thread(target=self._post, args=(bodies,), daemon=True).start()

    def _post(self, bodies: list[dict[str, Any]]) -> None:
        assert self._url is not None
        # Telemetry must never break the client, nor fill its output with errors.
        with (
            contextlib.suppress(Exception),
            httpx.Client(timeout=TIMEOUT, headers=self._headers) as http,
        ):
            for body in bodies:
                http.post(self._url, json=body)
