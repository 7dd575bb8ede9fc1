"""The manifest's folder index: the tree reads only what it shows, and gives the
same answer as reading everything."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.trees import make_tree
from vidsync.snapshot import index as index_module
from vidsync.snapshot import manifest as manifest_module
from vidsync.snapshot.browse import open_tree_entries, totals_suffice, tree
from vidsync.snapshot.index import MIN_INDEXED, Summary
from vidsync.snapshot.local import LocalSource
from vidsync.snapshot.manifest import (
    EntrySpool,
    ManifestHeader,
    read_manifest_raw,
    read_manifest_skipping,
    write_manifest,
)
from vidsync.snapshot.search import search, text_may_match
from vidsync.snapshot.source import CancelToken
from vidsync.storage.base import StorageError
from vidsync.storage.local import LocalStore


class Quiet:
    def set_message(self, message: str) -> None: ...
    def set_total(self, total: float | None) -> None: ...
    def set_done(self, done: float) -> None: ...
    def advance(self, amount: float = 1) -> None: ...


FRAMES = MIN_INDEXED  # every shot folder holds enough to be indexed
SHOTS = (10, 20, 30, 40, 50, 60)  # 18 shots: enough folders to share among workers


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shots of frame sequences (one with a gap), loose files between folders, a
    folder too small to index, and a file after every folder."""
    spec: dict[str, object] = {
        f"sq{q}": {
            f"sh{s:03d}": {
                "comp": {f"sh{s:03d}_comp.{f}.exr": b"x" * (f % 5)
                         for f in range(1001, 1001 + FRAMES) if (q, s, f) != (1, 20, 1010)},
                "notes.txt": "n" * s,
            }
            for s in SHOTS
        } | {"edit.mov": b"e" * q}
        for q in range(3)
    }
    spec["small"] = {"a.txt": "a", "b.txt": "bb"}
    spec["zz-readme.txt"] = "after every folder"
    return make_tree(tmp_path_factory.mktemp("index") / "project", spec)


def snapshot(root: Path, work: Path, *, parallel: bool = True) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    source = LocalSource(root, workers=2)
    spool = EntrySpool(work / "entries.jsonl")
    if parallel:
        assert source.fill_spool(spool, work, Quiet(), CancelToken())
    else:
        for entry in source.entries(Quiet(), CancelToken()):
            spool.add(entry)
    header = ManifestHeader("p", "s", 0.0, spool.file_count, spool.directory_count,
                            spool.total_bytes, 0)
    out = work / "manifest.json.gz"
    write_manifest(spool, header, out, lambda n: None, lambda: None)
    return out


@pytest.fixture(scope="module")
def manifest(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot(project, tmp_path_factory.mktemp("work"))


def full_tree(manifest: Path, root: str, depth: int | None, sequences: bool) -> list[Any]:
    with open(manifest, "rb") as stream:
        _, entries = read_manifest_raw(stream)
        return tree(entries, root, depth, sequences)


def indexed(stream: io.RawIOBase | io.BufferedIOBase, root: str,
            depth: int | None) -> list[Any]:
    _, entries = read_manifest_skipping(stream, totals_suffice(root, depth))  # type: ignore[arg-type]
    return list(entries)


@pytest.mark.parametrize("root", ["", "sq1", "sq1/sh020", "sq2/sh030/comp", "small", "nothing"])
@pytest.mark.parametrize("depth", [None, 1, 2])
def test_the_tree_is_the_same_with_the_index(manifest: Path, root: str,
                                             depth: int | None) -> None:
    for sequences in (False, True):
        with open(manifest, "rb") as stream:
            got = tree(iter(indexed(stream, root, depth)), root, depth, sequences)
        assert got == full_tree(manifest, root, depth, sequences)


def test_the_top_level_skips_every_shot(manifest: Path) -> None:
    with open(manifest, "rb") as stream:
        items = indexed(stream, "", 1)
    summaries = [i for i in items if isinstance(i, Summary)]
    entries = [i for i in items if not isinstance(i, Summary)]
    # The shots (and nothing else) are walked by workers and big enough to index.
    assert sorted(s.path for s in summaries) == sorted(
        f"sq{q}/sh{s:03d}" for q in range(3) for s in SHOTS)
    gap = next(s for s in summaries if s.path == "sq1/sh020")
    assert (gap.files, gap.entries) == (FRAMES, FRAMES + 1)  # a frame less, the comp folder
    # Read: the top level (5), the loose files in it (2 + 3) and the shots' own lines.
    assert len(entries) == 5 + 2 + 3 + len(summaries)
    top = tree(iter(items), "", 1, True)
    assert top == full_tree(manifest, "", 1, True)
    sq1 = next(n for n in top if n["path"] == "sq1")
    assert sq1["fileCount"] == len(SHOTS) * (FRAMES + 1) - 1 + 1  # the gap, edit.mov


def test_a_stream_that_cannot_seek_reads_past_what_it_skips(manifest: Path) -> None:
    class Body(io.RawIOBase):  # like an S3 response body
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            chunk = self._data.read(min(len(buffer), 7000))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    stream = io.BufferedReader(Body(manifest.read_bytes()))
    assert not stream.seekable()
    items = indexed(stream, "sq1", 1)
    assert any(isinstance(i, Summary) for i in items)
    assert tree(iter(items), "sq1", 1, True) == full_tree(manifest, "sq1", 1, True)


def test_everyone_else_reads_the_manifest_as_before(
    manifest: Path, project: Path, tmp_path: Path
) -> None:
    serial = snapshot(project, tmp_path / "serial", parallel=False)
    assert gzip.decompress(manifest.read_bytes()) == gzip.decompress(serial.read_bytes())
    json.loads(gzip.decompress(manifest.read_bytes()))
    assert subprocess.run(["gzip", "-t", str(manifest)]).returncode == 0
    # A manifest without an index (the serial walk, older snapshots) is read whole.
    with open(serial, "rb") as stream:
        items = indexed(stream, "", 1)
    assert not any(isinstance(i, Summary) for i in items)
    assert tree(iter(items), "", 1, True) == full_tree(manifest, "", 1, True)


def test_a_damaged_index_is_a_storage_error(manifest: Path, tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    data = manifest.read_bytes()
    at = data.index(b"VI") + 10  # inside the index's compressed bytes
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:])
    with pytest.raises(StorageError, match="damaged"):
        list(open_tree_entries(store, broken.as_uri(), "", 1))


def test_a_search_in_one_folder_skips_the_others(manifest: Path) -> None:
    store = LocalStore(manifest.parent)
    items = list(open_tree_entries(store, manifest.as_uri(), "sq1", None))
    # Every shot outside sq1 is skipped; sq1's own shots are read, to be searched.
    assert sorted(i.path for i in items if isinstance(i, Summary)) == sorted(
        f"sq{q}/sh{s:03d}" for q in (0, 2) for s in SHOTS)
    got = search(iter(items), "comp.1010", "sq1", 500, False)
    with open(manifest, "rb") as stream:
        _, entries = read_manifest_raw(stream)
        expected = search(entries, "comp.1010", "sq1", 500, False)
    assert got == expected and got.matches == len(SHOTS) - 1  # sh020 lacks frame 1010


@pytest.mark.parametrize("query", ["comp.1010", "sh020", "notes", "SH03", "edit", "nothing"])
def test_a_search_parses_only_folders_whose_text_can_match(manifest: Path, query: str) -> None:
    store = LocalStore(manifest.parent)
    may = text_may_match(query)
    assert may is not None
    items = list(open_tree_entries(store, manifest.as_uri(), "", None, may))
    with open(manifest, "rb") as stream:
        _, entries = read_manifest_raw(stream)
        expected = search(entries, query, "", 500, True)
    assert search(iter(items), query, "", 500, True) == expected
    skipped = {i.path for i in items if isinstance(i, Summary)}
    # Shots are skipped unless their text holds the query: "sh020" is in sq*/sh020 (and the
    # shot folders' own lines, which are always read).
    if query == "sh020":
        assert skipped == {f"sq{q}/sh{s:03d}" for q in range(3) for s in SHOTS if s != 20}
    if query in ("edit", "nothing"):
        assert len(skipped) == 3 * len(SHOTS)


def test_names_that_fold_to_the_query_are_still_found(tmp_path: Path) -> None:
    frames = {f"f.{f}.exr": b"" for f in range(1001, 1001 + MIN_INDEXED)}
    spec: dict[str, object] = {f"sh{i:03d}": {"plate": frames} for i in range(18)}
    spec["sh005"] = {"plate": frames, "Stra\u00dfe.mov": "x"}  # casefolds to "strasse"
    manifest = snapshot(make_tree(tmp_path / "p", spec), tmp_path / "w")
    items = list(open_tree_entries(LocalStore(manifest.parent), manifest.as_uri(), "", None,
                                   text_may_match("STRASSE")))
    assert any(isinstance(i, Summary) for i in items)  # the other shots were not parsed
    found = search(iter(items), "STRASSE", "", 500, True)
    assert found.matches == 1 and found.tree[0]["children"][0]["name"] == "Stra\u00dfe.mov"


@pytest.mark.parametrize("query", ["sh020_comp.####.exr", "a\"b", "caf\u00e9", "tab\there"])
def test_queries_whose_text_differs_are_never_prefiltered(query: str) -> None:
    assert text_may_match(query) is None


@pytest.mark.parametrize("chunk", [1, 300, 5000])
def test_parsing_in_small_chunks_keeps_the_order(
    manifest: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lines are parsed a chunk at a time, with the Summaries met in between put
    # back in their places; tiny chunks cut everywhere.
    monkeypatch.setattr(manifest_module, "_CHUNK", chunk)
    for root, depth in (("", 1), ("sq1", 1), ("", None), ("sq2/sh030", 2)):
        with open(manifest, "rb") as stream:
            items = indexed(stream, root, depth)
        for sequences in (False, True):
            assert tree(iter(items), root, depth, sequences) == full_tree(
                manifest, root, depth, sequences)


def test_checking_stops_once_most_folders_are_wanted(
    manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "_KEEP_TRIES", 4)
    checked: list[int] = []
    may = text_may_match("comp")  # in every shot
    assert may is not None

    def counting(text: bytes) -> bool:
        checked.append(len(text))
        return may(text)

    with open(manifest, "rb") as stream:
        items = indexed_keeping(stream, counting)
    assert len(checked) == 4 and not any(isinstance(i, Summary) for i in items)
    with open(manifest, "rb") as stream:
        _, entries = read_manifest_raw(stream)
        assert search(iter(items), "comp", "", 500, True) == search(entries, "comp", "", 500, True)


def indexed_keeping(stream: io.BufferedIOBase, keep: Any) -> list[Any]:
    _, entries = read_manifest_skipping(stream, totals_suffice("", None), keep)  # type: ignore[arg-type]
    return list(entries)
