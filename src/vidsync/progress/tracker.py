"""The progress tracker: per-project state, a ring of recent events, and subscribers.

It knows nothing of HTTP. ``publish`` is called by snapshot reporters from worker
threads and never blocks on a subscriber; the SSE and poll endpoints, the
history log and the CLI bar are all just subscribers or listeners.

Once a serving event loop is attached (``attach_loop``), ``publish`` only
journals the event and hands it off: one wake-up of the loop per event, and
the fan-out to every subscriber runs there. The pipeline's cost per event is
then the same with 0 or 10,000 subscribers. Without a loop (the CLI, unit
tests) the fan-out happens in ``publish`` itself.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vidsync.clock import Clock, SystemClock
from vidsync.models import ProgressEvent, Step
from vidsync.progress.subscription import Subscription

if TYPE_CHECKING:
    import asyncio  # the CLI's in-process snapshot never imports it (20 ms)

Listener = Callable[[ProgressEvent], None]
Forward = Callable[[list[ProgressEvent]], None]
# (event without ids, last project id, last agent-wide id) -> (the event with its
# ids, recorded; events other processes recorded since the last agent-wide id).
Allocate = Callable[[ProgressEvent, int, int], tuple[ProgressEvent, list[ProgressEvent]]]
log = logging.getLogger(__name__)


@dataclass
class _ProjectState:
    last_id: int = 0
    current: ProgressEvent | None = None
    finished_at: float | None = None  # monotonic time of the terminal event
    ring: deque[ProgressEvent] = field(default_factory=deque)  # maxlen set on creation
    deleted: bool = False  # the project was deleted: only its ids are kept


class ProgressTracker:
    def __init__(
        self,
        *,
        buffer_size: int = 10,
        ring_size: int = 1000,
        retention: float = 600.0,
        clock: Clock | None = None,
        journal: Listener | None = None,
        agent: str | None = None,
        allocate: Allocate | None = None,
    ) -> None:
        """``journal`` records each event before anyone sees it (so an id that a
        client saw is never issued again after a restart); keep it quick.

        ``allocate``, instead, gives each event its ids and records it (the
        journal shared by several processes: ``Database.journal_event``)."""
        self.buffer_size = buffer_size
        self.ring_size = ring_size
        self.retention = retention
        self.clock: Clock = clock or SystemClock()
        self._lock = threading.RLock()
        self._projects: dict[str, _ProjectState] = {}
        self._subscribers: set[Subscription] = set()
        self._listeners: list[Listener] = []
        self._journal = journal
        self._allocate = allocate
        self.agent = agent  # stamped on this agent's events
        self._forward: Forward | None = None
        # Other agents' latest event per (agent, project), with its monotonic arrival time.
        self._remote: dict[tuple[str, str], tuple[ProgressEvent, float]] = {}
        self.remote_ttl = 60.0  # a running snapshot not heard of for this long is dropped
        self.published_count = 0
        # The all-projects stream numbers its events with one global sequence.
        self._global_id = 0
        self._global_ring: deque[tuple[int, ProgressEvent]] = deque(maxlen=ring_size)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: deque[ProgressEvent] = deque()
        self._drain_pending = False

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Fan out on ``loop`` from now on (None: back to fanning out in ``publish``)."""
        with self._lock:
            self._loop = loop

    # -- producer ------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with every published event, in order (keep it quick)."""
        with self._lock:
            self._listeners.append(listener)

    def _state(self, project_id: str) -> _ProjectState:
        state = self._projects.get(project_id)
        if state is None:
            state = self._projects[project_id] = _ProjectState(ring=deque(maxlen=self.ring_size))
        return state

    def restore_global(self, last_global_id: int, recent: Sequence[ProgressEvent] = ()) -> None:
        """Continue the agent-wide ids after a restart, so an id from before it is
        never mistaken for a new event (it gets a resync instead). ``recent``
        (the journal's last events, oldest first) can be replayed to
        reconnecting clients of the all-projects stream: a client of a killed
        sibling process resumes exactly on its replacement."""
        with self._lock:
            self._global_id = max(self._global_id, last_global_id)
            tail = _unbroken_tail([e for e in recent if e.global_id], lambda e: e.global_id)
            self._global_ring.extend((e.global_id, e) for e in tail)

    def restore(self, project_id: str, last_id: int, recent: list[ProgressEvent]) -> None:
        """Continue a project after a restart: ids go on after ``last_id`` and the
        ``recent`` events (oldest first) can be replayed to reconnecting clients."""
        with self._lock:
            state = self._state(project_id)
            state.last_id = max(state.last_id, last_id)
            state.ring.extend(_unbroken_tail(recent, lambda e: e.id))
            if recent:
                latest = recent[-1]
                state.current = latest
                if latest.terminal:
                    age = max(0.0, self.clock.time() - latest.timestamp)
                    state.finished_at = self.clock.monotonic() - age
                self._expire(state)

    def publish(self, event: ProgressEvent) -> ProgressEvent | None:
        """Record and fan out one event; returns it with its id, or None if refused.

        Enforces the contract whatever the producer does: ids rise by one per
        project, progress never goes backwards within a snapshot and reaches 100
        only on completion, a failure keeps the last progress and step number,
        and nothing follows a terminal event of the same snapshot.
        """
        with self._lock:
            state = self._state(event.project_id)
            if state.deleted:  # a late event of a deleted project (another process's)
                return None
            prev = state.current
            same_run = prev is not None and prev.snapshot_id == event.snapshot_id
            if same_run and prev is not None and prev.terminal:
                return None
            progress = event.progress
            step_number = event.step_number
            if same_run and prev is not None:
                if event.step in (Step.FAILED, Step.CANCELLED):
                    progress = prev.progress
                    step_number = prev.step_number
                progress = max(progress, prev.progress)
            progress = 100 if event.step is Step.COMPLETED else max(0, min(progress, 99))
            final = self._number(state, event.replace(
                progress=progress,
                step_number=step_number,
                timestamp=event.timestamp or self.clock.time(),
                resync=False,
                agent=event.agent or self.agent,
            ))
            self._show(state, final)
            self.published_count += 1
            listeners = list(self._listeners)
        for listener in listeners:
            listener(final)
        return final

    # -- ids, and the events of sibling processes --------------------------------

    def _number(self, state: _ProjectState, event: ProgressEvent) -> ProgressEvent:
        """``event`` with its ids, recorded in the journal (under the lock)."""
        if self._allocate is not None:
            try:
                final, earlier = self._allocate(event, state.last_id, self._global_id)
            except Exception:  # history is lost for this event; progress goes on
                log.exception("cannot record progress event of %s", event.project_id)
            else:
                # Sibling processes' events come first: the agent-wide order is the journal's.
                self._apply_siblings(earlier)
                state.last_id = max(state.last_id, final.id)
                self._global_id = max(self._global_id, final.global_id)
                return final
        state.last_id += 1
        self._global_id += 1
        final = event.replace(id=state.last_id, global_id=self._global_id)
        if self._journal is not None and self._allocate is None:
            try:
                self._journal(final)
            except Exception:  # history is lost for this event; progress goes on
                log.exception("cannot record progress event %s/%s", final.project_id, final.id)
        return final

    @property
    def last_global_id(self) -> int:
        """The agent-wide id of the latest event this tracker has shown."""
        with self._lock:
            return self._global_id

    def ingest_siblings(self, events: list[ProgressEvent]) -> None:
        """Events that sibling processes sharing the journal recorded (oldest first,
        with their ids): shown here as if published here. Ones already shown are skipped."""
        with self._lock:
            self._apply_siblings(events)

    def _apply_siblings(self, events: list[ProgressEvent]) -> None:
        for event in events:
            if event.global_id <= self._global_id:
                continue
            state = self._state(event.project_id)
            state.last_id = max(state.last_id, event.id)
            self._global_id = event.global_id
            if state.deleted:  # recorded just before its project was deleted
                continue
            self._show(state, event)

    def _show(self, state: _ProjectState, event: ProgressEvent) -> None:
        """``event`` (with its ids) as the project's state, in the replay rings and
        on its way to the subscribers (under the lock)."""
        state.current = event
        state.finished_at = self.clock.monotonic() if event.terminal else None
        state.ring.append(event)
        self._global_ring.append((event.global_id, event))
        self._hand_off(event)

    def _hand_off(self, event: ProgressEvent) -> None:
        """Queue ``event`` for the loop's fan-out, or fan out here if there is no loop."""
        loop = self._loop
        if loop is not None:
            self._outbox.append(event)
            if self._drain_pending:
                return
            try:
                loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop has closed: fan out here
                self._loop = None
                self._outbox.clear()
            else:
                self._drain_pending = True
                return
        for sub in list(self._subscribers):
            sub.push(event)

    def _drain(self) -> None:
        """On the serving loop: give queued events to every subscriber, in order."""
        with self._lock:
            events = list(self._outbox)
            self._outbox.clear()
            self._drain_pending = False
            subscribers = list(self._subscribers)
            forward = self._forward
        if events:
            for sub in subscribers:
                sub.push_many(events)
        if forward is not None and events:
            forward(events)

    # -- the team bus ----------------------------------------------------------

    def set_forward(self, forward: Forward | None) -> None:
        """Also give this agent's events, in order, to ``forward`` (on the loop)."""
        with self._lock:
            self._forward = forward

    def ingest(self, event: ProgressEvent) -> None:
        """Another agent's event (from the bus): kept as its latest state and shown
        on the all-projects stream, without an id of this agent's sequence."""
        agent = event.agent
        if agent is None or agent == self.agent:
            return
        event = event.replace(global_id=0, resync=False)
        with self._lock:
            self._remote[(agent, event.project_id)] = (event, self.clock.monotonic())
            subscribers = [s for s in self._subscribers if s.project_id is None]
        for sub in subscribers:
            sub.push(event)

    def remote_states(self) -> list[ProgressEvent]:
        """Other agents' snapshots still worth showing: running and heard of
        lately, or finished within the retention time."""
        with self._lock:
            return self._remote_locked()

    def _remote_locked(self) -> list[ProgressEvent]:
        now = self.clock.monotonic()
        for key, (event, seen) in list(self._remote.items()):
            limit = self.retention if event.terminal else self.remote_ttl
            if now - seen >= limit:
                del self._remote[key]
        return [event for event, _ in self._remote.values()]

    def active(self) -> list[ProgressEvent]:
        """This agent's snapshots that are running now (their latest event)."""
        with self._lock:
            return [
                s.current for s in self._projects.values()
                if s.current is not None and not s.current.terminal
            ]

    def forget(self, project_id: str) -> None:
        """Drop a deleted project's state, as if it had never existed: its current
        state, its replay ring and its events in the agent-wide ring. Only its
        last id is kept (ids are never reused); later events of it are refused."""
        with self._lock:
            state = self._state(project_id)
            state.deleted = True
            state.current = None
            state.finished_at = None
            state.ring.clear()
            ring = self._global_ring
            if any(e.project_id == project_id for _, e in ring):
                kept = [(gid, e) for gid, e in ring if e.project_id != project_id]
                ring.clear()
                ring.extend(kept)

    # -- readers -------------------------------------------------------------

    def _expire(self, state: _ProjectState) -> None:
        if state.finished_at is not None and (
            self.clock.monotonic() - state.finished_at >= self.retention
        ):
            state.current = None
            state.finished_at = None
            state.ring.clear()

    def current(self, project_id: str) -> ProgressEvent | None:
        """The project's state, or None when idle (no snapshot, or retention expired)."""
        with self._lock:
            state = self._projects.get(project_id)
            if state is None:
                return None
            self._expire(state)
            return state.current

    def last_id(self, project_id: str) -> int:
        with self._lock:
            state = self._projects.get(project_id)
            return state.last_id if state else 0

    @staticmethod
    def _after(state: _ProjectState, last_id: int) -> list[ProgressEvent] | None:
        if last_id > state.last_id:
            return None  # an id this tracker never issued: resync
        if last_id == state.last_id:
            return []
        ring = state.ring
        if not ring or ring[0].id > last_id + 1:
            return None
        return [e for e in ring if e.id > last_id]

    def subscribe(
        self,
        project_id: str,
        *,
        last_event_id: int | None = None,
        snapshot_id: str | None = None,
    ) -> Subscription:
        """Subscribe to one project; ends after the terminal event it is waiting for.

        Works before any snapshot has started. Without ``last_event_id`` the
        current state comes first; with it, exactly the missed events, or one
        event with the current state marked ``resync`` when they are gone.
        """
        sub = Subscription(
            self.buffer_size,
            project_id=project_id,
            snapshot_id=snapshot_id,
            until_terminal=True,
            on_close=self._unsubscribe,
        )
        with self._lock:
            state = self._state(project_id)
            self._expire(state)
            current = state.current
            backlog: list[ProgressEvent] = []
            if last_event_id is None:
                if current is not None:
                    backlog = [current]
            else:
                missed = self._after(state, last_event_id)
                if missed is None:
                    if current is not None:
                        backlog = [current.replace(resync=True)]
                else:
                    backlog = missed
                    if not missed and current is not None and current.terminal:
                        sub.already_finished = sub.wants(current)
            for event in backlog:
                if sub.wants(event):
                    # The backlog may exceed the buffer: it is what the client asked for.
                    sub._items.append(event)
            sub.floor = self._global_id
            self._subscribers.add(sub)
        return sub

    def subscribe_all(self, *, last_event_id: int | None = None) -> Subscription:
        """Subscribe to every project (never ends by itself); resume ids are ``global_id``."""
        sub = Subscription(
            max(self.buffer_size, 1),
            project_id=None,
            until_terminal=False,
            on_close=self._unsubscribe,
        )
        with self._lock:
            backlog: list[ProgressEvent] = []
            ring = self._global_ring
            if last_event_id is not None and ring and ring[0][0] <= last_event_id + 1 and (
                last_event_id <= self._global_id
            ):
                backlog = [e for gid, e in ring if gid > last_event_id]
            else:
                for state in self._projects.values():
                    self._expire(state)
                    if state.current is not None:
                        backlog.append(state.current.replace(resync=last_event_id is not None))
            sub._items.extend(backlog)
            sub._items.extend(self._remote_locked())
            sub.floor = self._global_id
            self._subscribers.add(sub)
            return sub

    def finish_all(self) -> None:
        """Let every subscriber drain its buffer and end (the agent is stopping).

        With a loop attached this runs there, after the events already handed
        off, so the last ones (the "interrupted" failures) still reach everyone.
        """
        with self._lock:
            loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._finish_now)
                return
            except RuntimeError:
                pass
        self._finish_now()

    def _finish_now(self) -> None:
        self._drain()
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            sub.finish()

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)


def _unbroken_tail(
    events: Sequence[ProgressEvent], key: Callable[[ProgressEvent], int]
) -> Sequence[ProgressEvent]:
    """The newest run of ``events`` (oldest first) whose ids follow one another: a
    replay may only come from there. The journal thins old snapshots' logs, and a
    resume from before a gap must get a resync, not a silent jump."""
    start = len(events) - 1
    while start > 0 and key(events[start - 1]) == key(events[start]) - 1:
        start -= 1
    return events[max(start, 0):]
