"""A snapshot's outcome tells the truth: a vanished folder fails it, skipped entries
are counted by kind, and the outcome is durable before anyone is told."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.trees import deep_unreachable_dir, make_tree
from vidsync.models import ManifestEntry, ProgressEvent, SnapshotState, Step
from vidsync.progress.reporter import SnapshotReporter
from vidsync.progress.tracker import ProgressTracker
from vidsync.snapshot.local import LocalSource
from vidsync.snapshot.pipeline import SnapshotJob, SnapshotResult, run_snapshot
from vidsync.snapshot.skips import SkipKind, SkipLog
from vidsync.snapshot.source import CancelToken, StepProgress
from vidsync.storage.local import LocalStore


def run(
    tmp_path: Path,
    source: LocalSource,
    *,
    on_event: Callable[[ProgressEvent], None] | None = None,
    persist: Callable[[SnapshotResult], None] | None = None,
) -> tuple[SnapshotResult, list[ProgressEvent], Path]:
    tracker = ProgressTracker(buffer_size=10_000)
    events: list[ProgressEvent] = []
    tracker.add_listener(events.append)
    if on_event is not None:
        tracker.add_listener(on_event)
    store = tmp_path / "store"
    job = SnapshotJob(
        project_id="proj-1",
        snapshot_id="snap-1",
        source=source,
        store=LocalStore(store),
        reporter=SnapshotReporter(tracker.publish, "proj-1", "snap-1", min_interval=0),
        work_dir=tmp_path / "work",
        persist=persist,
    )
    return run_snapshot(job), events, store


def manifests(store: Path) -> list[Path]:
    return list(store.rglob("*.json.gz")) if store.exists() else []


@pytest.fixture
def big(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "project",
                     {f"d{i:02d}": {f"f{j:03d}": "x" for j in range(20)} for i in range(20)})


class DeletingSource(LocalSource):
    """Removes the whole project folder after ``after`` entries of the walk."""

    def __init__(self, root: Path, after: int) -> None:
        super().__init__(root)
        self.after = after

    def entries(self, progress: StepProgress, cancel: CancelToken) -> Iterator[ManifestEntry]:
        for i, entry in enumerate(super().entries(progress, cancel)):
            if i == self.after:
                shutil.rmtree(self.root)
            yield entry
        if self.after < 0:  # after the whole walk
            shutil.rmtree(self.root)


@pytest.mark.parametrize("after", [0, 30, -1], ids=["at-once", "mid-walk", "after-walk"])
def test_folder_deleted_during_the_walk_fails_the_snapshot(
    tmp_path: Path, big: Path, after: int
) -> None:
    result, events, store = run(tmp_path, DeletingSource(big, after))
    assert result.state is SnapshotState.FAILED
    assert result.error == f"the project folder {big} vanished during the snapshot"
    assert events[-1].step is Step.FAILED and events[-1].error == result.error
    assert not any(e.step is Step.COMPLETED for e in events)
    assert manifests(store) == []


def test_folder_deleted_while_compressing_fails_before_upload(tmp_path: Path, big: Path) -> None:
    def delete_on_step_4(event: ProgressEvent) -> None:
        if event.step_number == 4 and big.exists():
            shutil.rmtree(big)

    result, events, store = run(tmp_path, LocalSource(big), on_event=delete_on_step_4)
    assert result.state is SnapshotState.FAILED
    assert "vanished during the snapshot" in (result.error or "")
    assert events[-1].step_number == 4 and manifests(store) == []


def test_folder_replaced_by_a_file_fails_with_what_happened(tmp_path: Path, big: Path) -> None:
    def replace_on_step_4(event: ProgressEvent) -> None:
        if event.step_number == 4 and big.is_dir():
            shutil.rmtree(big)
            big.write_text("not a folder")

    result, _, _ = run(tmp_path, LocalSource(big), on_event=replace_on_step_4)
    assert result.state is SnapshotState.FAILED
    assert "was replaced by something that is not a folder" in (result.error or "")


def test_skipped_entries_are_counted_by_kind_with_their_paths(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"a": {"keep.txt": "x", "zz-gone.txt": "y"}, "b.txt": "z"})
    os.mkfifo(root / "pipe")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "a" / "sock"))
    deep_unreachable_dir(root)

    class VanishingSource(LocalSource):
        def entries(self, progress: StepProgress, cancel: CancelToken) -> Iterator[ManifestEntry]:
            for entry in super().entries(progress, cancel):
                if entry.path == "a/keep.txt":  # "a" is listed: its last entry goes now
                    (root / "a" / "zz-gone.txt").unlink()
                yield entry

    result, events, _ = run(tmp_path, VanishingSource(root))
    assert result.state is SnapshotState.COMPLETED, result.error
    assert result.skipped == {"vanished": 1, "unreadable": 1, "special": 2}
    assert result.skipped_count == 4
    kinds = dict((path, kind) for kind, path in result.skipped_paths)
    assert kinds["a/zz-gone.txt"] == "vanished"
    assert kinds["a/sock"] == kinds["pipe"] == "special"
    assert [k for k in kinds.values()].count("unreadable") == 1
    final = events[-1]
    assert final.step is Step.COMPLETED and final.has_warnings
    assert (final.skipped_count, final.skipped) == (4, result.skipped)
    assert final.to_json()["skipped"] == {"vanished": 1, "unreadable": 1, "special": 2}
    assert not any(e.skipped_count for e in events[:-1])  # only the terminal event


def test_a_whole_snapshot_has_no_warnings(tmp_path: Path, big: Path) -> None:
    result, events, _ = run(tmp_path, LocalSource(big))
    assert result.state is SnapshotState.COMPLETED
    assert result.skipped == {"vanished": 0, "unreadable": 0, "special": 0}
    assert not events[-1].has_warnings and events[-1].skipped_count == 0


def test_skip_log_keeps_counting_past_the_paths_it_keeps() -> None:
    log = SkipLog(limit=3)
    for i in range(10):
        log.add(SkipKind.SPECIAL if i % 2 else SkipKind.VANISHED, f"f{i}")
    assert log.total == 10 and log.by_kind() == {"vanished": 5, "unreadable": 0, "special": 5}
    assert log.paths == [("vanished", "f0"), ("special", "f1"), ("vanished", "f2")]


def test_outcome_is_persisted_before_the_terminal_event(tmp_path: Path, big: Path) -> None:
    seen_at_persist: list[list[ProgressEvent]] = []
    events_box: list[list[ProgressEvent]] = []

    def persist(result: SnapshotResult) -> None:
        seen_at_persist.append(list(events_box[0]))
        assert result.state is SnapshotState.COMPLETED and result.snapshot_url

    tracker_events: list[ProgressEvent] = []
    events_box.append(tracker_events)
    result, events, _ = run(tmp_path, LocalSource(big), on_event=tracker_events.append,
                            persist=persist)
    assert result.state is SnapshotState.COMPLETED
    (before,) = seen_at_persist
    assert before and not any(e.terminal for e in before)
    assert events[-1].step is Step.COMPLETED


def test_a_record_that_cannot_be_saved_is_never_announced_as_completed(
    tmp_path: Path, big: Path
) -> None:
    saved: list[SnapshotState] = []

    def persist(result: SnapshotResult) -> None:
        saved.append(result.state)
        if result.state is SnapshotState.COMPLETED:
            raise OSError("disk full")

    result, events, store = run(tmp_path, LocalSource(big), persist=persist)
    assert result.state is SnapshotState.FAILED and result.snapshot_url is None
    assert result.error == "cannot record the snapshot: disk full"
    assert saved == [SnapshotState.COMPLETED, SnapshotState.FAILED]
    assert events[-1].step is Step.FAILED and not any(e.step is Step.COMPLETED for e in events)
    assert manifests(store) == []  # the manifest nothing points to is gone
