"""``ProgressClient``: live progress of one project, surviving a flaky link.

The rules are those of the browser client (DESIGN §5): SSE first; on a lost
or refused stream, reconnect after 1, 2, 4, 8, 15, 30 s (with jitter) and
resend the last event id; from the first failed attempt also poll, and keep
trying SSE in the background (polling stops when the stream is back); a
stream silent for two heartbeat intervals is dead; stop after the terminal event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, aclosing, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import anyio
from httpx_sse import ServerSentEvent

from vidsync.client.agent import AsyncAgentClient
from vidsync.client.backoff import FAILURES_BEFORE_POLLING, Backoff
from vidsync.client.errors import AgentError, AgentUnreachable, ServerError
from vidsync.client.sse import is_event_stream, read_events
from vidsync.client.telemetry import FallbackReporter
from vidsync.client.types import ClientConfig
from vidsync.clock import Clock, SystemClock
from vidsync.models import ProgressEvent, Step

Sleep = Callable[[float], Awaitable[None]]
EventCallback = Callable[[ProgressEvent], object]


class ConnectionState(StrEnum):
    """``idle``: not started; ``connected``: stream open; ``reconnecting``: lost,
    retrying (and polling once ``polling``); ``disconnected``: stopped for good."""

    IDLE = "idle"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RECONNECTING = "reconnecting"


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """The link as a client shows it: state, polling, failures, next attempt, why."""

    state: ConnectionState
    polling: bool = False
    failures: int = 0
    retry_in: float | None = None
    reason: str | None = None
    # False until the stream was open once: retrying then is still connecting, as
    # nothing was lost (the status line says "connecting", not "reconnecting").
    ever_connected: bool = False

    def describe(self) -> str:
        """Short text for a status line: ``reconnecting in 4 s (polling)``."""
        text = self.state.value
        if self.state is ConnectionState.RECONNECTING and not self.ever_connected:
            text = "connecting"
        if self.state is ConnectionState.RECONNECTING and self.retry_in is not None:
            text += f" in {self.retry_in:.0f} s" if self.retry_in >= 1 else " now"
        if self.polling:
            text += " (polling)"
        return text


StateCallback = Callable[[ConnectionStatus], object]


class _Retry(Exception):
    """This attempt is over; reconnect (the message says why)."""


class ProgressClient:
    """Events of one project's snapshot, as an async iterator and as callbacks.

    ``async for event in client`` (or ``await client.run()``) yields each event
    once, in id order, and ends after the terminal event (of ``snapshot_id``
    when given), after a 204 from the agent, or after :meth:`stop`. Events the
    client could not get one by one (polling, or the agent no longer has them)
    come as one full state marked ``resync``. Errors that retrying cannot fix
    (404: no such project; 400; 401/403) raise :class:`AgentError`.

    ``clock`` and ``sleep`` drive the backoff and polling waits, so tests can
    use a fake clock; the heartbeat watchdog measures the event loop's time.
    """

    def __init__(
        self,
        agent: AsyncAgentClient,
        project_id: str,
        *,
        snapshot_id: str | None = None,
        last_event_id: int | None = None,
        config: ClientConfig | None = None,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        on_event: EventCallback | None = None,
        on_state: StateCallback | None = None,
    ) -> None:
        self.agent = agent
        self.project_id = project_id
        self.snapshot_id = snapshot_id
        self.last_event_id = last_event_id
        self.last_event: ProgressEvent | None = None
        self.config = config or ClientConfig()
        self.backoff = backoff or Backoff.from_config(self.config)
        self._clock = clock or SystemClock()
        self._sleep = sleep or anyio.sleep
        self._event_callbacks: list[EventCallback] = [on_event] if on_event else []
        self._state_callbacks: list[StateCallback] = [on_state] if on_state else []
        self._state_callbacks.append(FallbackReporter(agent, clock=self._clock))
        self._ever_connected = False
        self._status = ConnectionStatus(ConnectionState.IDLE)
        self._polling = False
        self._started = False
        self._stopped = False
        self.finished = False  # a terminal event (or a 204) ended the stream
        self._scope: anyio.CancelScope | None = None
        self._read_scope: anyio.CancelScope | None = None
        self._last_data = 0.0

    @classmethod
    async def create(
        cls, agent: AsyncAgentClient, project_id: str, **options: Any
    ) -> ProgressClient:
        """A client configured from the agent's ``/api/v1/config`` (defaults if it is down)."""
        if options.get("config") is None:
            try:
                options["config"] = await agent.config()
            except AgentError:
                options["config"] = ClientConfig()
        return cls(agent, project_id, **options)

    # -- public ----------------------------------------------------------------

    @property
    def status(self) -> ConnectionStatus:
        return self._status

    @property
    def state(self) -> ConnectionState:
        return self._status.state

    def add_event_callback(self, callback: EventCallback) -> None:
        """``callback(event)`` for each event, before the iterator yields it."""
        self._event_callbacks.append(callback)

    def add_state_callback(self, callback: StateCallback) -> None:
        """``callback(status)`` on each change of :class:`ConnectionStatus`."""
        self._state_callbacks.append(callback)

    def stop(self) -> None:
        """End the client (from a callback or another task of the same loop)."""
        self._stopped = True
        if self._scope is not None:
            self._scope.cancel()

    async def run(self) -> ProgressEvent | None:
        """Run until the end (callbacks only); the last event delivered."""
        async with aclosing(self.events()) as events:
            async for _ in events:
                pass
        return self.last_event

    def __aiter__(self) -> AsyncIterator[ProgressEvent]:
        return self.events()

    async def events(self) -> AsyncGenerator[ProgressEvent, None]:
        """The events; a client runs once. Use ``contextlib.aclosing`` to leave early."""
        if self._started:
            raise RuntimeError("a ProgressClient runs once; create a new one")
        self._started = True
        waits = 0  # waits since the last good connection: the backoff step
        failures = 0  # attempts in a row that did not open a stream
        next_poll = float("-inf")  # kept across waits, so polls keep their pace
        try:
            while not self._stopped and not self.finished:
                opened = False
                try:
                    async with AsyncExitStack() as stack:
                        response = None
                        with self._cancellable():
                            response = await stack.enter_async_context(
                                self.agent.open_stream(
                                    self.project_id,
                                    last_event_id=self.last_event_id,
                                    snapshot_id=self.snapshot_id,
                                )
                            )
                        if response is None:  # stopped while connecting
                            break
                        if response.status_code == 204:  # that id was the terminal event
                            self.finished = True
                            break
                        if response.status_code != 200 or not is_event_stream(response):
                            ctype = response.headers.get("content-type")
                            raise _Retry(f"stream answered {response.status_code} ({ctype})")
                        opened = True
                        failures = waits = 0
                        self._polling = False
                        self._set_status(ConnectionState.CONNECTED)
                        self._last_data = anyio.current_time()
                        sse_events = read_events(response, self._on_data)
                        while not self._stopped:
                            sse = await self._next(sse_events)
                            if sse is None:
                                break
                            event = self._accept(self._parse(sse), polled=False)
                            if event is not None:
                                yield event
                            if self.finished:
                                break
                        if self._stopped or self.finished:
                            break
                        raise _Retry("the stream ended")
                except (_Retry, AgentUnreachable, ServerError) as exc:
                    reason = str(exc)
                if self._stopped:
                    break
                if not opened:
                    failures += 1
                if failures >= FAILURES_BEFORE_POLLING:
                    self._polling = True
                delay = self.backoff.delay(waits)
                waits += 1
                self._set_status(
                    ConnectionState.RECONNECTING,
                    failures=failures,
                    retry_in=delay,
                    reason=reason,
                )
                # Wait for the next SSE attempt; poll meanwhile once SSE keeps failing.
                retry_at = self._clock.monotonic() + delay
                while not self._stopped and not self.finished:
                    now = self._clock.monotonic()
                    if now >= retry_at:
                        break
                    if self._polling and now >= next_poll:
                        next_poll = now + self.config.poll_interval
                        event = await self._poll()
                        if event is not None:
                            yield event
                        continue
                    wake = min(retry_at, next_poll) if self._polling else retry_at
                    await self._nap(wake - now)
        finally:
            self._polling = False
            self._set_status(ConnectionState.DISCONNECTED)

    # -- internals -------------------------------------------------------------

    @contextmanager
    def _cancellable(self, deadline: float = float("inf")) -> Iterator[anyio.CancelScope]:
        """A scope :meth:`stop` can cancel (and the watchdog, through ``deadline``)."""
        with anyio.CancelScope(deadline=deadline) as scope:
            self._scope = scope
            if self._stopped:
                scope.cancel()
            try:
                yield scope
            finally:
                self._scope = None

    async def _nap(self, seconds: float) -> None:
        with self._cancellable():
            await self._sleep(seconds)

    def _silence_limit(self) -> float:
        heartbeat = self.config.heartbeat
        return 2 * heartbeat if heartbeat > 0 else float("inf")

    def _on_data(self) -> None:
        self._last_data = anyio.current_time()
        if self._read_scope is not None:
            self._read_scope.deadline = self._last_data + self._silence_limit()

    async def _next(self, events: AsyncIterator[ServerSentEvent]) -> ServerSentEvent | None:
        """The next SSE message; ``None`` at the end; ``_Retry`` after too long a silence."""
        limit = self._silence_limit()
        with self._cancellable(self._last_data + limit) as scope:
            self._read_scope = scope
            try:
                return await anext(events)
            except StopAsyncIteration:
                return None
            finally:
                self._read_scope = None
        if self._stopped:
            return None
        # Neither an event nor a ping: a half-open connection looks exactly like this.
        raise _Retry(f"no data for {limit:g} s (two heartbeat intervals)")

    @staticmethod
    def _parse(sse: ServerSentEvent) -> ProgressEvent | None:
        if not sse.data:
            return None  # a retry hint alone
        try:
            data = json.loads(sse.data)
            event = ProgressEvent.from_json(data)
        except (ValueError, KeyError, TypeError):
            return None  # not an event of ours: skip it rather than die
        if not data.get("id") and sse.id.isdigit():
            event = event.replace(id=int(sse.id))
        return event

    async def _poll(self) -> ProgressEvent | None:
        try:
            with self._cancellable():
                return self._accept(await self.agent.progress(self.project_id), polled=True)
        except (AgentUnreachable, ServerError):
            pass  # the agent may be down too: keep the pace
        return None

    def _accept(self, event: ProgressEvent | None, *, polled: bool) -> ProgressEvent | None:
        """The event to deliver, or ``None`` for one already seen or not ours."""
        if event is None or event.step is Step.IDLE:
            return None
        if self.snapshot_id is not None and event.snapshot_id != self.snapshot_id:
            return None
        last = self.last_event_id
        if last is not None and event.id <= last:
            return None
        if polled and last is not None and event.id > last + 1:
            # A poll only sees the current state: say that some events were skipped.
            event = event.replace(resync=True)
        self.last_event_id = event.id
        self.last_event = event
        for callback in self._event_callbacks:
            callback(event)
        if event.terminal:
            self.finished = True
        return event

    def _set_status(self, state: ConnectionState, **fields: Any) -> None:
        self._ever_connected = self._ever_connected or state is ConnectionState.CONNECTED
        status = ConnectionStatus(state, polling=self._polling,
                                  ever_connected=self._ever_connected, **fields)
        if status == self._status:
            return
        self._status = status
        for callback in self._state_callbacks:
            callback(status)
