"""One subscriber's bounded buffer, with coalescing that never drops a terminal event."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from vidsync.models import TERMINAL_STEPS, ProgressEvent

if TYPE_CHECKING:
    import asyncio


class Subscription:
    """Events for one subscriber, readable from asyncio (``next``) or a thread (``get``).

    ``push`` never blocks and never waits for the reader. When the buffer is full,
    an intermediate event is dropped in favour of a newer one: first an event
    followed by a newer one of the same project and step (so step transitions
    survive as long as possible), else the oldest intermediate event. Every
    event carries the whole state, so a reader only ever misses intermediate
    values. Terminal events are never dropped.
    """

    def __init__(
        self,
        buffer_size: int,
        *,
        project_id: str | None,
        snapshot_id: str | None = None,
        until_terminal: bool = True,
        on_close: Callable[[Subscription], None] | None = None,
    ) -> None:
        self.buffer_size = buffer_size
        self.project_id = project_id
        self.snapshot_id = snapshot_id
        self.until_terminal = until_terminal
        # True when the client's Last-Event-ID is already the terminal event.
        self.already_finished = False
        self.coalesced = 0
        # A list, not a deque: at most ``buffer_size`` (10) events, and an empty
        # deque costs 760 bytes, an empty list 56, times every open stream.
        self._items: list[ProgressEvent] = []
        self._lock = threading.Lock()
        # Made by the first thread that blocks in ``get``: SSE streams never do,
        # and with thousands of them the condition's memory counts.
        self._cond: threading.Condition | None = None
        # Events at or below this agent-wide id were already in the state the
        # subscription started from (they may still be on their way to the fan-out).
        self.floor = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._waiter: asyncio.Future[None] | None = None  # the async reader, while it waits
        self._closed = False
        self._finishing = False  # deliver what is buffered, then end
        self._ended = False  # delivered the terminal event it waited for
        self._on_close = on_close
        self._sync_readers = 0  # threads blocked in ``get``
        # Set by a stream that can write an event synchronously (its fast path):
        # returns False when it cannot, and the event is buffered as usual.
        self.sink: Callable[[list[ProgressEvent]], bool] | None = None

    # -- producer side -------------------------------------------------------

    def wants(self, event: ProgressEvent) -> bool:
        if self.project_id is not None and event.project_id != self.project_id:
            return False
        return self.snapshot_id is None or event.snapshot_id == self.snapshot_id

    def push(self, event: ProgressEvent) -> None:
        self.push_many((event,))

    def push_many(self, events: Sequence[ProgressEvent]) -> None:
        """Buffer ``events`` (oldest first) and wake the reader, or hand them all
        to the sink at once: one write for the events that queued up together.

        Runs once per subscriber per fan-out, so it is written for speed
        (``wants`` inlined, the terminal check only where it matters)."""
        floor, project, snapshot = self.floor, self.project_id, self.snapshot_id
        wanted = [
            e for e in events
            if not 0 < e.global_id <= floor
            and (project is None or e.project_id == project)
            and (snapshot is None or e.snapshot_id == snapshot)
        ]
        if not wanted:
            return
        with self._lock:
            if self._closed:
                return
            sink = self.sink
            if (
                sink is not None
                and self._waiter is not None  # the reader is idle: nothing in flight
                and not self._items
                and threading.get_ident() == self._loop_thread
            ):
                direct = wanted
                if self.until_terminal:
                    # The event that ends the stream goes through the reader,
                    # which ends the stream after it.
                    for i, e in enumerate(wanted):
                        if e.step in TERMINAL_STEPS:
                            direct = wanted[:i]
                            break
                if direct and sink(direct):
                    wanted = wanted[len(direct):]
                    if not wanted:
                        return
            for event in wanted:
                if len(self._items) >= self.buffer_size and not event.terminal:
                    self._make_room()
                self._items.append(event)
            if self._sync_readers:
                self._notify()
            waiter = self._waiter
        if waiter is not None:
            self._wake(waiter)

    def _notify(self) -> None:
        """Wake threads blocked in ``get`` (under the lock)."""
        if self._cond is not None:
            self._cond.notify_all()

    def _make_room(self) -> None:
        items = self._items
        victim: int | None = None
        for i in range(len(items) - 1):
            a, b = items[i], items[i + 1]
            if (
                not a.terminal
                and a.project_id == b.project_id
                and a.step_number == b.step_number
                and a.snapshot_id == b.snapshot_id
            ):
                victim = i
                break
        if victim is None:
            victim = next((i for i, e in enumerate(items) if not e.terminal), None)
        if victim is not None:
            del items[victim]
            self.coalesced += 1

    def _wake(self, waiter: asyncio.Future[None]) -> None:
        # On the reader's own loop (the tracker's fan-out runs there) wake it
        # directly; from another thread, through the loop.
        if threading.get_ident() == self._loop_thread:
            if not waiter.done():
                waiter.set_result(None)
            return
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(_resolve, waiter)
        except RuntimeError:  # the reader's loop is closed: nobody is listening
            self.close()

    # -- consumer side -------------------------------------------------------

    @property
    def ended(self) -> bool:
        """True once the terminal event it waited for was delivered, or it was closed."""
        return self._ended or self._closed

    def _take(self) -> ProgressEvent | None:
        if not self._items:
            if self._finishing:
                self._ended = True
            return None
        event = self._items.pop(0)
        if event.terminal and self.until_terminal:
            self._ended = True
        return event

    def get_nowait(self) -> ProgressEvent | None:
        with self._lock:
            return None if self._ended else self._take()

    def get(self, timeout: float | None = None) -> ProgressEvent | None:
        """Blocking read for threads; None on timeout or when ended."""
        with self._lock:
            if self._ended:
                return None
            if not self._items and not self._closed and not self._finishing:
                if self._cond is None:
                    self._cond = threading.Condition(self._lock)
                self._sync_readers += 1
                try:
                    self._cond.wait(timeout)
                finally:
                    self._sync_readers -= 1
            return None if self._ended else self._take()

    async def next(self, timeout: float | None = None) -> ProgressEvent | None:
        """Async read; None on timeout or when ended.

        Waits on a bare future with one timer (no task, no ``wait_for``): with
        thousands of readers, each wake-up must cost as little as possible.
        """
        import asyncio  # here: the CLI's in-process snapshot never needs asyncio (20 ms)

        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
        with self._lock:
            if self._ended:
                return None
            event = self._take()
            if event is not None or self._closed or self._ended:
                return event
            waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _resolve, waiter) if timeout is not None else None
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        with self._lock:
            return None if self._ended else self._take()

    def poke(self) -> None:
        """Wake the async reader with nothing (``next`` returns None): its heartbeat."""
        waiter = self._waiter
        if waiter is not None:
            self._wake(waiter)

    def finish(self) -> None:
        """End after the events already buffered (agent shutdown): no event is lost."""
        with self._lock:
            self._finishing = True
            self._notify()
            waiter = self._waiter
        if waiter is not None:
            self._wake(waiter)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._notify()
            waiter = self._waiter
        if self._on_close is not None:
            self._on_close(self)
        loop = self._loop
        if waiter is not None and loop is not None and not loop.is_closed():
            self._wake(waiter)

    def __len__(self) -> int:
        return len(self._items)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
