"""Snapshots through a real Syncthing: same manifest as the local walk, real scan
progress, hands off the user's folder."""

from __future__ import annotations

import gzip
import os
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.trees import Symlink, make_tree
from vidsync.models import ManifestEntry
from vidsync.snapshot.local import LocalSource
from vidsync.snapshot.manifest import EntrySpool, ManifestHeader, write_manifest
from vidsync.snapshot.source import CancelToken
from vidsync.snapshot.syncthing.rest import SyncthingRest, UnknownFolder
from vidsync.snapshot.syncthing.source import SyncthingSource, register_folder

pytestmark = pytest.mark.syncthing

NFD_NAME = unicodedata.normalize("NFD", "café.mov")  # Syncthing refuses to share it
NON_UTF8 = b"clip\xe9.mov"

TREE: dict[str, object] = {
    "footage": {
        "a001.mov": b"x" * 70_000,
        "a002.mov": b"y" * 2000,
        "day 2": {"b001.mov": b"z" * 10, "empty": {}},
    },
    "proxies": {"a001.mp4": b"p" * 300},
    "edit.prproj": "project",
    "Zebra.txt": "upper case sorts first",
    "\u00fcn\u00efcode-\u03bd\u03b1\u03b9.txt": "nfc",
    "latest": Symlink("footage/a001.mov"),
    "dangling": Symlink("/nowhere/at/all"),
}


def local_entries(root: Path) -> list[ManifestEntry]:
    return list(LocalSource(root).entries(_Null(), CancelToken()))


class _Null:
    def set_message(self, message: str) -> None: ...
    def set_total(self, total: float | None) -> None: ...
    def set_done(self, done: float) -> None: ...
    def advance(self, amount: float = 1) -> None: ...


def fs_state(root: Path) -> dict[bytes, tuple[int, int, int]]:
    """Every name under ``root`` (bytes) with its mode, size and mtime, root included."""
    broot = os.fsencode(root)
    state = {b".": _stat(broot)}
    for dirpath, dirnames, filenames in os.walk(broot):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            state[os.path.relpath(full, broot)] = _stat(full)
    return state


def _stat(path: bytes) -> tuple[int, int, int]:
    st = os.lstat(path)
    return st.st_mode, st.st_size, st.st_mtime_ns


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = make_tree(tmp_path / "project", TREE)
    (root / NFD_NAME).write_bytes(b"nfd")
    (root / os.fsdecode(NON_UTF8)).write_bytes(b"latin-1")
    return root


def test_manifest_is_the_local_sources_manifest(
    rest: SyncthingRest, register: Callable[..., str], run_steps: Any, tree: Path
) -> None:
    folder = register(tree)
    snap = run_steps(SyncthingSource(rest, folder, tree))

    assert snap.entries == local_entries(tree)
    paths = [e.path for e in snap.entries]
    assert NFD_NAME in paths and "clip\ufffd.mov" in paths  # kept, although Syncthing skips them
    assert sum(snap.progress.values("advance")) == len(snap.entries)
    # Step 2 counts come from Syncthing's index, which leaves out the two names.
    files = [e for e in snap.entries if not e.is_directory]
    assert snap.status.file_count == len(files) - 2
    assert snap.status.directory_count == sum(e.is_directory for e in snap.entries)
    assert snap.status.total_bytes == sum(
        e.size for e in files if not e.is_symlink and e.path not in (NFD_NAME, "clip\ufffd.mov")
    )
    assert snap.status.extra["unshareableCount"] == 2


def manifest_bytes(work: Path, fill: Callable[[EntrySpool], None]) -> bytes:
    work.mkdir()
    spool = EntrySpool(work / "entries.jsonl")
    try:
        fill(spool)
    finally:
        spool.close()
    header = ManifestHeader("p", "s", 0.0, spool.file_count, spool.directory_count,
                            spool.total_bytes, 0)
    write_manifest(spool, header, work / "m.json.gz", lambda n: None, lambda: None)
    return gzip.decompress((work / "m.json.gz").read_bytes())


def test_the_walk_on_disk_runs_in_parallel_with_the_same_manifest(
    rest: SyncthingRest, register: Callable[..., str], tree: Path, tmp_path: Path
) -> None:
    for i in range(20):  # enough folders to share among workers
        make_tree(tree / f"shot{i:02d}", {f"f{j}.exr": b"x" * j for j in range(5)})
    folder = register(tree)
    source = SyncthingSource(rest, folder, tree)
    progress, cancel = _Null(), CancelToken()
    source.wait_ready(progress, cancel)

    def walk_in_parallel(spool: EntrySpool) -> None:
        assert source.fill_spool(spool, spool.path.parent, progress, cancel)
        assert spool.parts  # the workers' gzip parts, not entries one by one

    def walk_one_by_one(spool: EntrySpool) -> None:
        for entry in local_entries(tree):
            spool.add(entry)

    parallel = manifest_bytes(tmp_path / "parallel", walk_in_parallel)
    assert parallel == manifest_bytes(tmp_path / "serial", walk_one_by_one)
    assert b"shot19/f4.exr" in parallel
    browse = SyncthingSource(rest, folder, tree, listing="browse")
    spool = EntrySpool(tmp_path / "browse.jsonl")
    try:
        assert not browse.fill_spool(spool, tmp_path, progress, cancel)  # entries one by one
    finally:
        spool.close()


def test_browse_listing_gives_the_same_manifest_for_shareable_names(
    rest: SyncthingRest, register: Callable[..., str], run_steps: Any, tmp_path: Path
) -> None:
    root = make_tree(tmp_path / "project", TREE)
    folder = register(root)
    snap = run_steps(SyncthingSource(rest, folder, root, listing="browse"))
    assert snap.entries == local_entries(root)


def test_scan_progress_follows_the_real_hashing(
    rest: SyncthingRest, register: Callable[..., str], run_steps: Any, tmp_path: Path
) -> None:
    root = tmp_path / "big"
    root.mkdir()
    size, count = 12 * 2**20, 64  # 768 MiB; sparse, so instant to create
    for i in range(count):
        with (root / f"clip{i:03d}.mov").open("wb") as f:
            f.truncate(size)
    # One hasher keeps the scan well over a second on fast machines too.
    folder = register(root, hashers=1)
    snap = run_steps(SyncthingSource(rest, folder, root))

    totals = [t for t in snap.progress.values("total") if t]
    assert totals and abs(totals[-1] - size * count) <= 1  # Syncthing reports total + 1
    dones = snap.progress.values("done")
    midway = [d for d in dones if 0 < d < totals[-1]]
    assert midway, f"no in-scan progress among {dones}"
    assert dones == sorted(dones)
    hashed = [m for m in snap.progress.values("message") if "hashed" in m]
    assert hashed
    if len(midway) > 1:  # a rate needs two reports (Syncthing 1.19 itself reports 0)
        assert any(m.endswith("/s)...") for m in hashed), hashed
    assert len(snap.entries) == count


def test_nothing_is_written_or_renamed_in_the_project_folder(
    rest: SyncthingRest, register: Callable[..., str], run_steps: Any, tree: Path
) -> None:
    before = fs_state(tree)
    folder = register(tree)
    run_steps(SyncthingSource(rest, folder, tree))
    run_steps(SyncthingSource(rest, folder, tree))  # a second snapshot rescans
    assert fs_state(tree) == before
    assert not (tree / ".stfolder").exists()
    config = rest.get_folder(folder)
    assert config["type"] == "sendonly"
    assert config["fsWatcherEnabled"] is False
    assert config["rescanIntervalS"] == 0


def test_a_second_snapshot_sees_changes_made_since_the_first(
    rest: SyncthingRest, register: Callable[..., str], run_steps: Any, tree: Path
) -> None:
    folder = register(tree)
    source = SyncthingSource(rest, folder, tree)
    run_steps(source)
    (tree / "new.mov").write_bytes(b"n" * 123)
    snap = run_steps(source)
    assert "new.mov" in [e.path for e in snap.entries]
    assert snap.status.total_bytes is not None
    assert snap.entries == local_entries(tree)


def test_register_is_idempotent_and_unregister_removes_the_folder(
    rest: SyncthingRest, tree: Path
) -> None:
    register_folder(rest, "proj-lifecycle", tree)
    register_folder(rest, "proj-lifecycle", tree)
    assert rest.get_folder("proj-lifecycle")["path"] == str(tree)
    from vidsync.snapshot.syncthing.source import unregister_folder

    unregister_folder(rest, "proj-lifecycle")
    with pytest.raises(UnknownFolder):
        rest.get_folder("proj-lifecycle")
    unregister_folder(rest, "proj-lifecycle")  # already gone: no error
