from __future__ import annotations

import gzip
import json
import os
import stat
from pathlib import Path

import pytest

from support.trees import Symlink, make_tree
from vidsync.models import ManifestEntry, ProgressEvent, SnapshotState, Step
from vidsync.progress.reporter import SnapshotReporter
from vidsync.progress.tracker import ProgressTracker
from vidsync.snapshot.local import LocalSource
from vidsync.snapshot.manifest import parse_mod_time, read_manifest
from vidsync.snapshot.pipeline import SnapshotJob, SnapshotResult, run_snapshot
from vidsync.snapshot.source import CancelToken
from vidsync.storage.local import LocalStore

NON_UTF8 = b"caf\xe9.mov"  # Latin-1 name, invalid as UTF-8


def expected_entries(root: Path) -> dict[bytes, tuple[bool, bool, int, int]]:
    """The tree as bytes path -> (is_dir, is_symlink, size, mtime_ns), from os.walk."""
    out: dict[bytes, tuple[bool, bool, int, int]] = {}
    broot = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(broot, followlinks=False):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            rel = os.path.relpath(full, broot)
            is_dir = stat.S_ISDIR(st.st_mode)
            out[rel] = (is_dir, stat.S_ISLNK(st.st_mode), 0 if is_dir else st.st_size,
                        st.st_mtime_ns)
    return out


def run(tmp_path: Path, source: LocalSource, project: str = "proj-1",
        cancel: CancelToken | None = None) -> tuple[SnapshotResult, list[ProgressEvent], Path]:
    tracker = ProgressTracker(buffer_size=10_000)
    events: list[ProgressEvent] = []
    tracker.add_listener(events.append)
    store_root = tmp_path / "store"
    job = SnapshotJob(
        project_id=project,
        snapshot_id="snap-1",
        source=source,
        store=LocalStore(store_root),
        reporter=SnapshotReporter(tracker.publish, project, "snap-1", min_interval=0),
        work_dir=tmp_path / "work",
        cancel=cancel or CancelToken(),
    )
    return run_snapshot(job), events, store_root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = make_tree(tmp_path / "project", {
        "footage": {"a001.mov": b"x" * 1000, "a002.mov": b"y" * 2000,
                    "day2": {"b001.mov": b"z" * 10}},
        "empty": {},
        "deep": {"l1": {"l2": {"l3": {"clip.mxf": b"clip"}}}},
        "notes.txt": "hello",
        "loop": {"back": Symlink("..")},
        "dangling": Symlink("nowhere/at/all"),
    })
    (root / os.fsdecode(NON_UTF8)).write_bytes(b"data")
    return root


def test_manifest_matches_the_tree_entry_by_entry(tmp_path: Path, tree: Path) -> None:
    result, events, _ = run(tmp_path, LocalSource(tree))
    assert result.state is SnapshotState.COMPLETED, result.error
    assert result.snapshot_url is not None
    expected = expected_entries(tree)
    with open(result.snapshot_url.removeprefix("file://"), "rb") as f:
        header, entries_iter = read_manifest(f)
        entries = list(entries_iter)
    got: dict[bytes, ManifestEntry] = {}
    for e in entries:
        raw = e.raw_path if e.raw_path is not None else e.path.encode()
        got[raw] = e
    assert set(got) == set(expected)
    for raw, (is_dir, is_link, size, mtime) in expected.items():
        e = got[raw]
        assert (e.is_directory, e.is_symlink, e.size, e.mod_time_ns) == (is_dir, is_link,
                                                                          size, mtime), raw
        assert e.name == e.path.rpartition("/")[2]
    assert header["fileCount"] == sum(1 for v in expected.values() if not v[0])
    assert header["directoryCount"] == sum(1 for v in expected.values() if v[0])
    assert header["totalSize"] == sum(v[2] for v in expected.values() if not v[0])
    assert header["projectId"] == "proj-1" and header["snapshotId"] == "snap-1"
    # a directory comes before its children; siblings sorted by name
    paths = [e.path for e in entries]
    for i, p in enumerate(paths):
        if "/" in p:
            assert paths.index(p.rpartition("/")[0]) < i
    # the symlink loop was recorded, not followed
    assert got[b"loop/back"].is_symlink and not any(p.startswith("loop/back/") for p in paths)
    assert events[-1].step is Step.COMPLETED


def test_non_utf8_name_is_kept_exactly(tmp_path: Path, tree: Path) -> None:
    result, _, _ = run(tmp_path, LocalSource(tree))
    assert result.snapshot_url is not None
    with gzip.open(result.snapshot_url.removeprefix("file://"), "rt", encoding="utf-8") as f:
        doc = json.load(f)  # the whole manifest is one valid JSON document
    (odd,) = [e for e in doc["entries"] if "pathBase64" in e]
    assert odd["path"] == "caf\ufffd.mov"
    import base64

    assert base64.b64decode(odd["pathBase64"]) == NON_UTF8
    assert parse_mod_time(odd["modTime"]) == os.lstat(os.path.join(os.fsencode(tree),
                                                                   NON_UTF8)).st_mtime_ns


def test_file_deleted_during_the_walk_is_left_out_and_counted_as_vanished(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"a": {f"f{i:03d}": "x" for i in range(50)}})
    source = LocalSource(root)

    class Quiet:
        def set_message(self, message: str) -> None: ...
        def set_total(self, total: float | None) -> None: ...
        def set_done(self, done: float) -> None: ...
        def advance(self, amount: float = 1) -> None: ...

    walk = source.entries(Quiet(), CancelToken())
    entries = [next(walk), next(walk)]  # "a" is listed and its first file yielded
    assert entries[1].path == "a/f000"
    (root / "a" / "f040").unlink()
    entries.extend(walk)
    paths = [e.path for e in entries]
    assert "a/f040" not in paths and "a/f039" in paths and len(paths) == 50
    assert source.skips.by_kind() == {"vanished": 1, "unreadable": 0, "special": 0}
    assert source.skips.paths == [("vanished", "a/f040")]


def test_folder_that_cannot_be_listed_is_skipped_and_counted(tmp_path: Path) -> None:
    # Works as root too: a folder whose full path exceeds PATH_MAX cannot be opened
    # by path (ENAMETOOLONG), the walk must count it and go on.
    root = make_tree(tmp_path / "p", {"ok.txt": "x"})
    fd = os.open(root, os.O_RDONLY)
    depth = 0
    try:
        while depth * 250 < 4200:
            name = f"{depth:02d}" + "n" * 248
            os.mkdir(name, dir_fd=fd)
            new = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
            depth += 1
        os.close(os.open("deep.txt", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)
    source = LocalSource(root)
    result, _, _ = run(tmp_path, source)
    assert result.state is SnapshotState.COMPLETED, result.error
    assert result.skipped_count is not None and result.skipped_count >= 1
    assert result.file_count == 1  # ok.txt; deep.txt was out of reach


def test_special_files_are_skipped_and_counted(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"f": "x"})
    os.mkfifo(root / "pipe")
    result, _, _ = run(tmp_path, LocalSource(root))
    assert result.state is SnapshotState.COMPLETED
    assert (result.file_count, result.skipped_count) == (1, 1)


def test_steps_in_order_and_progress_moves_within_steps(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {f"d{i}": {f"f{j}": "x" * j for j in range(50)}
                                      for i in range(40)})
    result, events, _ = run(tmp_path, LocalSource(root))
    assert result.state is SnapshotState.COMPLETED
    steps = [e.step_number for e in events]
    assert steps == sorted(steps) and set(steps) == {1, 2, 3, 4, 5, 6}
    progress = [e.progress for e in events]
    assert progress == sorted(progress) and progress[-1] == 100
    assert all(p < 100 for p in progress[:-1])
    browsing = [e for e in events if e.step_number == 3]
    assert len({e.progress for e in browsing}) > 3  # moves with files browsed
    assert [e.step_done for e in browsing] == sorted(e.step_done or 0 for e in browsing)
    compressing = [e for e in events if e.step_number == 4]
    assert compressing[0].step_total == 40 * 51
    assert events[-1].file_count == 2000 and events[-1].total_bytes == 40 * sum(range(50))
    assert events[-1].to_json()["totalSize"] == "47.9 KiB"


def test_missing_folder_fails_with_a_clear_message(tmp_path: Path) -> None:
    result, events, store = run(tmp_path, LocalSource(tmp_path / "gone"))
    assert result.state is SnapshotState.FAILED
    assert result.error == f"folder {tmp_path / 'gone'} does not exist"
    assert events[-1].step is Step.FAILED and events[-1].step_number == 1
    assert not store.exists() or not any(store.rglob("*.json.gz"))


def test_cancel_ends_in_cancelled_and_stores_nothing(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {f"f{i}": "x" for i in range(1000)})
    cancel = CancelToken()

    class CancellingSource(LocalSource):
        def entries(self, progress, cancel_token):  # type: ignore[no-untyped-def]
            for i, entry in enumerate(super().entries(progress, cancel_token)):
                if i == 10:
                    cancel.cancel()
                yield entry

    result, events, store = run(tmp_path, CancellingSource(root), cancel=cancel)
    assert result.state is SnapshotState.CANCELLED
    assert events[-1].step is Step.CANCELLED and events[-1].message == "Snapshot cancelled by user"
    assert not store.exists() or not any(store.rglob("*.json.gz"))
    assert not any((tmp_path / "work").iterdir())  # temporary files removed
