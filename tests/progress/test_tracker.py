from __future__ import annotations

import threading

import anyio
import pytest

from vidsync.clock import FakeClock
from vidsync.models import ProgressEvent, Step
from vidsync.progress.tracker import ProgressTracker


def ev(step_number: int, progress: int, snapshot: str = "s1", project: str = "p",
       step: Step | None = None, **kw: object) -> ProgressEvent:
    names = {1: Step.WAITING, 2: Step.BROWSING, 3: Step.BROWSING, 4: Step.COMPRESSING,
             5: Step.UPLOADING, 6: Step.COMPLETED}
    return ProgressEvent(project_id=project, step=step or names[step_number],
                         step_number=step_number, progress=progress, message="m",
                         timestamp=0.0, snapshot_id=snapshot, **kw)  # type: ignore[arg-type]


def drain(sub) -> list[ProgressEvent]:  # type: ignore[no-untyped-def]
    out = []
    while (e := sub.get_nowait()) is not None:
        out.append(e)
    return out


def run_snapshot(tracker: ProgressTracker, snapshot: str = "s1", project: str = "p") -> None:
    for n, p in [(1, 0), (2, 5), (3, 10), (3, 30), (4, 50), (5, 80)]:
        tracker.publish(ev(n, p, snapshot, project))
    tracker.publish(ev(6, 100, snapshot, project, snapshot_url="file:///x"))


def test_subscriber_before_start_receives_every_event() -> None:
    tracker = ProgressTracker(buffer_size=100)
    sub = tracker.subscribe("p")
    assert sub.get_nowait() is None
    run_snapshot(tracker)
    got = drain(sub)
    assert [e.id for e in got] == [1, 2, 3, 4, 5, 6, 7]
    assert [e.step_number for e in got] == [1, 2, 3, 3, 4, 5, 6]
    assert sub.ended


def test_subscriber_after_completion_gets_terminal_state() -> None:
    tracker = ProgressTracker()
    run_snapshot(tracker)
    sub = tracker.subscribe("p")
    got = drain(sub)
    assert len(got) == 1 and got[0].step is Step.COMPLETED and got[0].progress == 100
    assert got[0].snapshot_url == "file:///x"


def test_terminal_state_is_kept_for_the_retention_time_then_idle() -> None:
    clock = FakeClock()
    tracker = ProgressTracker(retention=600, clock=clock)
    run_snapshot(tracker)
    clock.advance(599)
    current = tracker.current("p")
    assert current is not None and current.step is Step.COMPLETED
    clock.advance(2)
    assert tracker.current("p") is None
    # ids keep rising for the next snapshot of the project
    tracker.publish(ev(1, 0, "s2"))
    assert tracker.current("p").id == 8  # type: ignore[union-attr]


def test_snapshot_filter_skips_the_retained_earlier_snapshot() -> None:
    tracker = ProgressTracker(buffer_size=100)
    run_snapshot(tracker, "s1")
    sub = tracker.subscribe("p", snapshot_id="s2")
    assert drain(sub) == []
    run_snapshot(tracker, "s2")
    got = drain(sub)
    assert {e.snapshot_id for e in got} == {"s2"} and got[-1].step is Step.COMPLETED


def test_replay_after_id_returns_exactly_the_missed_events() -> None:
    tracker = ProgressTracker()
    run_snapshot(tracker)
    for n in range(0, 7):
        sub = tracker.subscribe("p", last_event_id=n)
        assert [e.id for e in drain(sub)] == list(range(n + 1, 8))
        assert not any(e.resync for e in drain(sub))


def test_last_event_id_at_the_terminal_event_means_finished() -> None:
    tracker = ProgressTracker()
    run_snapshot(tracker)
    sub = tracker.subscribe("p", last_event_id=7)
    assert sub.already_finished
    assert drain(sub) == []


def test_replay_of_events_no_longer_kept_sends_one_resync() -> None:
    tracker = ProgressTracker(ring_size=3)
    run_snapshot(tracker)
    sub = tracker.subscribe("p", last_event_id=2)
    got = drain(sub)
    assert len(got) == 1 and got[0].resync and got[0].id == 7
    assert got[0].to_json()["resync"] is True
    # an id from the future (e.g. an older agent process) also resyncs
    got = drain(tracker.subscribe("p", last_event_id=99))
    assert len(got) == 1 and got[0].resync


def test_progress_never_goes_backwards_and_reaches_100_only_on_completion() -> None:
    tracker = ProgressTracker()
    values = []
    for n, p in [(1, 0), (2, 5), (3, 40), (3, 20), (4, 100), (5, 99)]:
        values.append(tracker.publish(ev(n, p)).progress)  # type: ignore[union-attr]
    assert values == [0, 5, 40, 40, 99, 99]
    assert tracker.publish(ev(6, 100)).progress == 100  # type: ignore[union-attr]


def test_failure_keeps_progress_and_step_number() -> None:
    tracker = ProgressTracker()
    tracker.publish(ev(3, 30))
    tracker.publish(ev(4, 62))
    failed = tracker.publish(ev(0, 0, step=Step.FAILED, error="disk full"))
    assert failed is not None
    assert (failed.progress, failed.step_number, failed.error) == (62, 4, "disk full")
    # nothing follows a terminal event of the same snapshot
    assert tracker.publish(ev(5, 80)) is None
    # a new snapshot starts from 0 again
    assert tracker.publish(ev(1, 0, "s2")).progress == 0  # type: ignore[union-attr]


def test_slow_subscribers_never_slow_the_producer_and_get_the_terminal_event() -> None:
    tracker = ProgressTracker(buffer_size=10)
    readers = [tracker.subscribe("p") for _ in range(40)]
    sleepers = [tracker.subscribe("p") for _ in range(10)]  # never read
    received: dict[int, list[ProgressEvent]] = {i: [] for i in range(len(readers))}

    def read(i: int) -> None:
        while (e := readers[i].get(timeout=10)) is not None:
            received[i].append(e)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()

    # The producer runs with 30 subscribers not reading at all: if it ever waited
    # for one, this thread would not finish.
    def produce() -> None:
        tracker.publish(ev(1, 0))
        for i in range(5000):
            tracker.publish(ev(3, 10 + i * 40 // 5000))
        tracker.publish(ev(6, 100))

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join(30)
    assert not producer.is_alive()
    late = [threading.Thread(target=read, args=(i,)) for i in range(20, 40)]
    for t in late:
        t.start()
    for t in threads + late:
        t.join(10)
    for i, events in received.items():
        assert events[-1].step is Step.COMPLETED, f"reader {i} missed the terminal event"
        ids = [e.id for e in events]
        assert ids == sorted(set(ids))
    for s in sleepers:
        assert len(s) <= 11  # bounded: 10 intermediate + the terminal one
        assert list(s._items)[-1].step is Step.COMPLETED


def test_coalescing_keeps_step_transitions() -> None:
    tracker = ProgressTracker(buffer_size=8)
    sub = tracker.subscribe("p")
    tracker.publish(ev(1, 0))
    tracker.publish(ev(2, 5))
    for i in range(100):
        tracker.publish(ev(3, 10 + i // 5))
    tracker.publish(ev(4, 50))
    tracker.publish(ev(5, 80))
    tracker.publish(ev(6, 100))
    got = drain(sub)
    assert [e.step_number for e in got if e.step_number != 3][:2] == [1, 2]
    assert sorted({e.step_number for e in got}) == [1, 2, 3, 4, 5, 6]
    assert got[-1].step is Step.COMPLETED
    assert sub.coalesced > 0


@pytest.mark.anyio
async def test_async_reader_wakes_on_publish_from_another_thread() -> None:
    tracker = ProgressTracker()
    sub = tracker.subscribe("p")
    got: list[ProgressEvent | None] = []

    async def read() -> None:
        got.append(await sub.next(timeout=5))

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        await anyio.wait_all_tasks_blocked()  # the reader is waiting, queue empty
        await anyio.to_thread.run_sync(run_snapshot, tracker)
    assert got[0] is not None and got[0].id == 1


def test_all_projects_subscription_resumes_with_global_ids() -> None:
    tracker = ProgressTracker(buffer_size=100)
    run_snapshot(tracker, project="a")
    run_snapshot(tracker, project="b")
    sub = tracker.subscribe_all(last_event_id=5)
    got = drain(sub)
    assert [e.global_id for e in got] == list(range(6, 15))
    fresh = drain(tracker.subscribe_all())
    assert {e.project_id for e in fresh} == {"a", "b"} and all(e.terminal for e in fresh)


def test_a_forgotten_project_is_gone_and_its_late_events_are_not_shown() -> None:
    tracker = ProgressTracker(buffer_size=100)
    run_snapshot(tracker, "s1", "gone")
    run_snapshot(tracker, "s2", "kept")
    last = tracker.last_id("gone")
    tracker.forget("gone")
    everything = tracker.subscribe_all()
    assert {e.project_id for e in drain(everything)} == {"kept"}
    resumed = tracker.subscribe_all(last_event_id=0)  # the replay has none of it either
    assert {e.project_id for e in drain(resumed)} == {"kept"}
    # A sibling recorded one more just before the deletion: it keeps the ids in step only.
    late = ev(6, 100, "s1", "gone").replace(id=last + 1, global_id=tracker.last_global_id + 1)
    tracker.ingest_siblings([late])
    assert tracker.current("gone") is None and drain(everything) == []
    assert tracker.last_global_id == late.global_id and tracker.last_id("gone") == last + 1
    assert tracker.publish(ev(1, 0, "s3", "gone")) is None  # and this process's own: refused
    assert tracker.current("gone") is None
