"""Searching a manifest: a pruned tree of the matches, built while streaming."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any

from vidsync.snapshot.search import search

T = "2026-01-01T00:00:00Z"


def entry(path: str, size: int = 1, directory: bool = False) -> dict[str, Any]:
    return {"name": path.rpartition("/")[2], "path": path, "size": 0 if directory else size,
            "isDirectory": directory, "modTime": T}


def names(nodes: list[dict[str, Any]]) -> list[str]:
    return [n["name"] for n in nodes]


def vfx_entries(shots: int, frames: int = 48) -> Iterator[dict[str, Any]]:
    """DFS-ordered like a manifest: shots/shNNN/{comp/frames..., notes.txt}."""
    yield entry("shots", directory=True)
    for s in range(shots):
        shot = f"shots/sh{s:05d}"
        yield entry(shot, directory=True)
        yield entry(f"{shot}/comp", directory=True)
        for f in range(1001, 1001 + frames):
            yield entry(f"{shot}/comp/sh{s:05d}_comp_v003.{f}.exr", 10)
        yield entry(f"{shot}/notes.txt", 3)


def test_a_deep_match_comes_with_the_folders_that_lead_to_it() -> None:
    entries = [entry("a", directory=True), entry("a/b", directory=True),
               entry("a/b/c", directory=True), entry("a/b/c/Deep_Take.mov", 7),
               entry("a/b/c/other.mov", 5), entry("a/b/x.txt", 2), entry("top.txt")]
    found = search(iter(entries), "deep_take")
    assert (found.matches, found.total, found.truncated) == (1, 1, False)
    (a,) = found.tree
    (b,) = a["children"]
    (c,) = b["children"]
    assert names(c["children"]) == ["Deep_Take.mov"] and c["children"][0]["match"] is True
    # the folders keep the totals of everything below them, not only of the matches
    assert (a["fileCount"], a["totalBytes"], c["fileCount"]) == (3, 14, 2)
    assert "match" not in a and "match" not in c


def test_a_matching_folder_is_a_match_and_its_content_is_not_listed() -> None:
    entries = [entry("SH010", directory=True), entry("SH010/plate.mov", 4),
               entry("sh020", directory=True), entry("sh020/sh010_ref.mov", 2)]
    found = search(iter(entries), "sh010")
    assert names(found.tree) == ["SH010", "sh020"]
    sh010, sh020 = found.tree
    assert sh010["match"] is True and sh010["children"] == [] and sh010["fileCount"] == 1
    assert names(sh020["children"]) == ["sh010_ref.mov"]
    assert found.total == 2


def test_a_sequence_matches_as_one_node_by_its_display_name() -> None:
    found = search(vfx_entries(3, frames=10), "SH00001_COMP")
    assert (found.matches, found.total) == (1, 1)
    (shots,) = found.tree
    (shot,) = shots["children"]
    (comp,) = shot["children"]
    (seq,) = comp["children"]
    assert seq["type"] == "sequence" and seq["name"] == "sh00001_comp_v003.####.exr"
    assert (seq["frames"], seq["fileCount"], seq["match"]) == ("1001-1010", 10, True)
    assert len(seq["children"]) == 10
    # a frame's name finds its sequence, once; "#" matches the sequence's name
    by_frame = search(vfx_entries(3, frames=10), "1005")
    assert by_frame.total == 3
    assert {s["children"][0]["children"][0]["name"]
            for s in by_frame.tree[0]["children"]} == {
        f"sh0000{i}_comp_v003.####.exr" for i in range(3)}
    assert search(vfx_entries(3, frames=10), "1011").total == 0  # past the last frame
    assert search(vfx_entries(3, frames=10), "v003.####").total == 3
    # without grouping every frame is an entry of its own
    assert search(vfx_entries(3, frames=10), "1005", sequences=False).total == 3


def test_a_lone_frame_and_frame_like_names_stay_files() -> None:
    entries = [entry("f", directory=True), entry("f/shot.1001.exr"), entry("f/clip.0001.mov"),
               entry("f/clip.0002.mov")]
    found = search(iter(entries), "1")
    assert names(found.tree[0]["children"]) == ["clip.0001.mov", "shot.1001.exr"]


def test_a_query_with_a_slash_matches_paths() -> None:
    found = search(vfx_entries(3, frames=4), "sh00002/notes")
    (shots,) = found.tree
    assert [n["path"] for n in shots["children"][0]["children"]] == ["shots/sh00002/notes.txt"]
    assert found.total == 1


def test_the_search_stays_below_the_root_folder() -> None:
    found = search(vfx_entries(3, frames=4), "notes", root="shots/sh00001")
    assert [n["path"] for n in found.tree] == ["shots/sh00001/notes.txt"]


def test_the_cap_keeps_the_first_matches_and_counts_them_all() -> None:
    found = search(vfx_entries(30, frames=4), "notes", limit=5)
    assert (found.matches, found.total, found.truncated) == (5, 30, True)
    (shots,) = found.tree
    assert names(shots["children"]) == [f"sh{s:05d}" for s in range(5)]
    seqs = search(vfx_entries(30, frames=4), "comp_v003", limit=7)
    assert (seqs.matches, seqs.total, seqs.truncated) == (7, 30, True)


def peak_bytes(shots: int, query: str) -> int:
    tracemalloc.start()
    try:
        found = search(vfx_entries(shots), query, limit=50)
        assert found.total == shots and found.matches == 50
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_follows_the_matches_not_the_manifest() -> None:
    # 10x the entries (15k -> 150k), the same 50 matches kept: the peak must not grow
    # with the manifest (a search that kept the tree would need ~10x).
    small = peak_bytes(300, "notes")
    large = peak_bytes(3_000, "notes")
    assert large < small * 1.5, (small, large)


FOLDERS = [
    [f"sh010_comp_v003.{n}.exr" for n in range(1001, 1041) if n not in (1011, 1012)],
    [f"plate.{n:04d}.dpx" for n in range(1, 30)] + ["plate.0100.dpx", "notes.0001.exr"],
    [f"a.{n}.exr" for n in range(1, 120)],  # unpadded: widths 1-3
    [f"pre.{n:04d}.exr" for n in range(-5, 3)],  # negative frames
    [f"v{v:03d}_shot.1001.exr" for v in range(1, 5)],  # the version varies, not a frame
    [f"shot{n}.exr" for n in range(1001, 1005)],  # no dot before the number
    [f"fx.{n:04d}.bgeo.sc" for n in range(1, 6)] + [f"fx.{n:04d}.v2.exr" for n in range(7, 9)],
    [f"sh0{s}0_bg.{n:03d}.tif" for s in range(1, 4) for n in range(1, 4)],
    [f"r{n}x{n}.exr" for n in range(1, 4)],  # two runs of digits vary
    ["only.1001.exr", "other.2002.exr"],
    [f"sh{n}_comp.1001.exr" for n in range(100, 104)],  # one width, but not the frame
    [f"c.{n:04d}.exr" for n in (1, 2, 10, 999, 1000, 9999)],  # one run, sorted by number
]


def test_quick_sequence_split_answers_what_fileseq_answers() -> None:
    from vidsync.snapshot.sequences import find_sequences, split_sequences

    def canon(result: tuple[list[Any], list[str]]) -> tuple[object, ...]:
        seqs, rest = result
        return (sorted((s.name, tuple(s.frames), tuple(s.members)) for s in seqs),
                sorted(rest))

    for names in FOLDERS:
        assert canon(split_sequences(names)) == canon(find_sequences(names)), names


def test_a_search_in_one_folder_stops_reading_after_it() -> None:
    read: list[str] = []

    def counted() -> Iterator[dict[str, Any]]:
        for e in vfx_entries(3, frames=2):
            read.append(e["path"])
            yield e

    found = search(counted(), "notes", "shots/sh00001")
    assert found.total == 1
    assert read[-1] == "shots/sh00002"  # the first entry past the folder, then no more
