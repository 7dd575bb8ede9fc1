"""The parallel local walk writes exactly the manifest the serial walk writes."""

from __future__ import annotations

import gzip
import os
import socket
from pathlib import Path

import pytest

from support.trees import Symlink, deep_unreachable_dir, make_tree
from vidsync.snapshot.local import LocalSource
from vidsync.snapshot.manifest import EntrySpool, ManifestHeader, write_manifest
from vidsync.snapshot.skips import SkipLog
from vidsync.snapshot.source import CancelToken, SnapshotCancelled, SourceError
from vidsync.snapshot.walk import ParallelWalk


class Counting:
    def __init__(self, on_advance: object = None) -> None:
        self.done = 0.0
        self.on_advance = on_advance

    def set_message(self, message: str) -> None: ...
    def set_total(self, total: float | None) -> None: ...
    def set_done(self, done: float) -> None: ...

    def advance(self, amount: float = 1) -> None:
        self.done += amount
        if callable(self.on_advance):
            self.on_advance()


@pytest.fixture
def odd_tree(tmp_path: Path) -> Path:
    """Names that need escaping or are not UTF-8, links, special files, empty folders,
    an unreachable folder, and enough sub-folders to be shared among workers."""
    spec: dict[str, object] = {
        f"shot{i:02d}": {f"take{j}": {f"f{k}.exr": b"x" * (i + j + k) for k in range(3)}
                         for j in range(4)}
        for i in range(6)
    }
    spec.update({
        'quote"back\\slash': {"tab\tnew\nline.txt": "t", "caf\u00e9 \u6771\u4eac.mov": "u"},
        "empty": {},
        "links": {"to-dir": Symlink("../shot00"), "dangling": Symlink("nowhere")},
        "zz-last-file.txt": "after every folder",
    })
    root = make_tree(tmp_path / "project", spec)
    (root / "shot03" / os.fsdecode(b"caf\xe9.mov")).write_bytes(b"latin-1")
    os.mkdir(os.path.join(os.fsencode(root), b"d\xff\xfe"))
    (root / os.fsdecode(b"d\xff\xfe") / "inside.txt").write_text("x")
    os.mkfifo(root / "shot01" / "pipe")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "shot02" / "sock"))
    deep_unreachable_dir(root / "shot04")
    return root


def manifest_text(source: LocalSource, work: Path, *, parallel: bool) -> bytes:
    work.mkdir(parents=True)
    spool = EntrySpool(work / "entries.jsonl")
    progress = Counting()
    if parallel:
        assert source.fill_spool(spool, work, progress, CancelToken())
        assert spool.parts
    else:
        for entry in source.entries(progress, CancelToken()):
            spool.add(entry)
    assert progress.done == spool.entry_count
    header = ManifestHeader("p", "s", 0.0, spool.file_count, spool.directory_count,
                            spool.total_bytes, source.skipped)
    write_manifest(spool, header, work / "m.json.gz", lambda n: None, lambda: None)
    return gzip.decompress((work / "m.json.gz").read_bytes())


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_parallel_walk_writes_the_serial_manifest_byte_for_byte(
    tmp_path: Path, odd_tree: Path, workers: int
) -> None:
    serial = LocalSource(odd_tree)
    expected = manifest_text(serial, tmp_path / "serial", parallel=False)
    parallel = LocalSource(odd_tree, workers=workers)
    got = manifest_text(parallel, tmp_path / "parallel", parallel=True)
    assert got == expected
    assert b'"pathBase64"' in got and b'"isSymlink":true' in got and b"\\t" in got
    assert parallel.skips.by_kind() == serial.skips.by_kind() == {
        "vanished": 0, "unreadable": 1, "special": 2}
    assert sorted(parallel.skips.paths) == sorted(serial.skips.paths)


def test_work_is_shared_among_worker_processes(tmp_path: Path, odd_tree: Path) -> None:
    (tmp_path / "w").mkdir()
    walk = ParallelWalk(str(odd_tree), SkipLog(), lambda: None, tmp_path / "w", workers=2)
    result = walk.run(Counting(), CancelToken())
    assert len(walk.worker_pids) == 2 and os.getpid() not in walk.worker_pids
    assert len(result.parts) > 2  # units, and the lines after the last one
    for pid in walk.worker_pids:  # reaped: no zombies left behind
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_a_folder_that_vanishes_under_a_worker_fails_the_walk(
    tmp_path: Path, odd_tree: Path
) -> None:
    (tmp_path / "w").mkdir()

    def gone() -> None:
        raise SourceError(f"the project folder {odd_tree} vanished during the snapshot")

    # The unreachable folder deep in shot04 is met by a worker, which checks the root.
    walk = ParallelWalk(str(odd_tree), SkipLog(), gone, tmp_path / "w", workers=2)
    with pytest.raises(SourceError, match="vanished during the snapshot"):
        walk.run(Counting(), CancelToken())
    assert walk.worker_pids


def test_workers_hold_none_of_the_parents_descriptors(tmp_path: Path, odd_tree: Path) -> None:
    # In the agent, the walk forks the server: a worker holding its sockets would keep
    # a closed client connection (or the port) open until the walk ends.
    (tmp_path / "w").mkdir()
    seen = tmp_path / "seen"
    seen.mkdir()
    parent = os.getpid()

    def record() -> None:  # called by whoever meets the unreachable folder
        if os.getpid() != parent:
            targets = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                       if os.path.exists(f"/proc/self/fd/{fd}")]
            (seen / str(os.getpid())).write_text("\n".join(targets))

    sentinel_r, sentinel_w = os.pipe()
    try:
        walk = ParallelWalk(str(odd_tree), SkipLog(), record, tmp_path / "w", workers=2)
        walk.run(Counting(), CancelToken())
        sentinel = os.readlink(f"/proc/self/fd/{sentinel_w}")
        reports = [p.read_text().splitlines() for p in seen.iterdir()]
        assert reports, "no worker met the unreachable folder"
        for targets in reports:
            assert any(t.startswith("pipe:") for t in targets)  # its own pipes, still open
            assert sentinel not in targets
    finally:
        os.close(sentinel_r)
        os.close(sentinel_w)


def test_workers_run_at_the_added_niceness(tmp_path: Path, odd_tree: Path) -> None:
    (tmp_path / "w").mkdir()
    seen = tmp_path / "seen"
    seen.mkdir()
    parent, base = os.getpid(), os.getpriority(os.PRIO_PROCESS, 0)

    def record() -> None:  # called by whoever meets the unreachable folder
        if os.getpid() != parent:
            (seen / str(os.getpid())).write_text(str(os.getpriority(os.PRIO_PROCESS, 0)))

    walk = ParallelWalk(str(odd_tree), SkipLog(), record, tmp_path / "w", workers=2, nice=5)
    walk.run(Counting(), CancelToken())
    assert [int(p.read_text()) for p in seen.iterdir()] == [min(19, base + 5)]
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the parent is untouched


def test_cancel_stops_the_workers(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {f"d{i:03d}": {f"f{j}": "x" for j in range(50)}
                                      for i in range(200)})
    (tmp_path / "w").mkdir()
    cancel = CancelToken()
    walk = ParallelWalk(str(root), SkipLog(), lambda: None, tmp_path / "w", workers=2)
    with pytest.raises(SnapshotCancelled):
        walk.run(Counting(on_advance=cancel.cancel), cancel)
    assert len(walk.worker_pids) == 2
    for pid in walk.worker_pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_a_subclass_that_changes_entries_keeps_the_serial_walk(tmp_path: Path) -> None:
    class Custom(LocalSource):
        def entries(self, progress, cancel):  # type: ignore[no-untyped-def]
            yield from super().entries(progress, cancel)

    root = make_tree(tmp_path / "p", {"a": {"b": "x"}})
    spool = EntrySpool(tmp_path / "e.jsonl")
    try:
        assert not Custom(root).fill_spool(spool, tmp_path, Counting(), CancelToken())
        assert spool.entry_count == 0 and not spool.parts
    finally:
        spool.close()


def test_more_units_than_one_pipe_write_holds(tmp_path: Path) -> None:
    # 1,500 folders: 6,000 bytes of tickets, fed to the workers in several writes.
    root = make_tree(tmp_path / "p", {f"d{i:04d}": {"f": "x"} for i in range(1500)})
    expected = manifest_text(LocalSource(root), tmp_path / "serial", parallel=False)
    assert manifest_text(LocalSource(root, workers=2), tmp_path / "par", parallel=True) == expected
