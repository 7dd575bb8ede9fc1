"""With a serving loop attached, publish only hands off: the fan-out runs on the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence

import pytest

from support.agent import wait_until
from vidsync.models import ProgressEvent, Step
from vidsync.progress.subscription import Subscription
from vidsync.progress.tracker import ProgressTracker


def ev(step_number: int, progress: int) -> ProgressEvent:
    step = {1: Step.WAITING, 4: Step.COMPRESSING, 5: Step.UPLOADING, 6: Step.COMPLETED}
    return ProgressEvent(project_id="p", step=step.get(step_number, Step.BROWSING),
                         step_number=step_number, progress=progress, message="m",
                         timestamp=0.0, snapshot_id="s1")


def run_snapshot(tracker: ProgressTracker) -> None:
    for n, p in [(1, 0), (2, 5), (3, 10), (3, 30), (4, 50), (5, 80), (6, 100)]:
        tracker.publish(ev(n, p))


def drain(sub: Subscription) -> list[ProgressEvent]:
    out = []
    while (e := sub.get_nowait()) is not None:
        out.append(e)
    return out


class CountingLoop:
    """A real asyncio loop in its own thread that counts cross-thread wake-ups."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.wakeups = 0
        real = self.loop.call_soon_threadsafe

        def counting(callback, *args, context=None):  # type: ignore[no-untyped-def]
            self.wakeups += 1
            return real(callback, *args, context=context)

        self.loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def run(self, fn, *args):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(_call(fn, *args), self.loop).result(10)


async def _call(fn, *args):  # type: ignore[no-untyped-def]
    return fn(*args)


@pytest.fixture
def serving_loop() -> Iterator[CountingLoop]:
    counting = CountingLoop()
    counting.thread.start()
    yield counting
    counting.loop.call_soon_threadsafe(counting.loop.stop)
    counting.thread.join(10)
    counting.loop.close()


def spy_on(sub: Subscription, threads: set[int]) -> None:
    push_many = sub.push_many

    def recording(events: Sequence[ProgressEvent]) -> None:
        threads.add(threading.get_ident())
        push_many(events)

    sub.push_many = recording  # type: ignore[method-assign]


def test_publish_wakes_the_loop_once_per_event_whatever_the_subscriber_count(
    serving_loop: CountingLoop,
) -> None:
    tracker = ProgressTracker(buffer_size=100)
    tracker.attach_loop(serving_loop.loop)
    subs = [tracker.subscribe("p") for _ in range(500)] + [tracker.subscribe_all()]
    push_threads: set[int] = set()
    for sub in subs:
        spy_on(sub, push_threads)
    before = serving_loop.wakeups
    run_snapshot(tracker)  # 7 events, from this (the pipeline's) thread
    wait_until(lambda: all(len(s) == 7 for s in subs))
    assert serving_loop.wakeups - before <= 7
    assert push_threads == {serving_loop.thread.ident}, "fan-out ran in the publishing thread"
    for sub in subs:
        assert [e.id for e in drain(sub)] == [1, 2, 3, 4, 5, 6, 7]


def test_subscribing_while_events_are_in_flight_gets_each_event_once() -> None:
    loop = asyncio.new_event_loop()  # attached, but not running yet: events wait in the outbox
    try:
        tracker = ProgressTracker(buffer_size=100)
        tracker.attach_loop(loop)
        early = tracker.subscribe("p")
        tracker.publish(ev(1, 0))
        tracker.publish(ev(2, 5))
        late = tracker.subscribe("p")  # its backlog already holds event 2
        late_all = tracker.subscribe_all()
        tracker.publish(ev(3, 10))
        loop.run_until_complete(asyncio.sleep(0))  # the fan-out runs now
        assert [e.id for e in drain(early)] == [1, 2, 3]
        assert [e.id for e in drain(late)] == [2, 3]
        assert [e.global_id for e in drain(late_all)] == [2, 3]
    finally:
        loop.close()


def test_shutdown_delivers_events_handed_off_before_it() -> None:
    loop = asyncio.new_event_loop()
    try:
        tracker = ProgressTracker(buffer_size=100)
        tracker.attach_loop(loop)
        sub = tracker.subscribe_all()
        tracker.publish(ev(1, 0))
        tracker.publish(ev(3, 10))
        tracker.finish_all()
        loop.run_until_complete(asyncio.sleep(0))
        assert [e.global_id for e in drain(sub)] == [1, 2]
        assert sub.ended
    finally:
        loop.close()


def test_async_readers_on_the_loop_receive_handed_off_events(
    serving_loop: CountingLoop,
) -> None:
    tracker = ProgressTracker(buffer_size=100)
    tracker.attach_loop(serving_loop.loop)
    subs = [tracker.subscribe("p") for _ in range(50)]

    async def read_all() -> list[list[int]]:
        async def read(sub: Subscription) -> list[int]:
            ids = []
            while (e := await sub.next(timeout=10)) is not None:
                ids.append(e.id)
            return ids

        return await asyncio.gather(*(read(s) for s in subs))

    future = asyncio.run_coroutine_threadsafe(read_all(), serving_loop.loop)
    run_snapshot(tracker)
    assert future.result(20) == [[1, 2, 3, 4, 5, 6, 7]] * 50
