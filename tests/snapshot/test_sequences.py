"""Frame sequences found per folder: gaps, several per folder, padding, negative frames."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vidsync.snapshot.browse import tree
from vidsync.snapshot.sequences import compact_range, find_sequences

T = "2026-11-29T10:00:00.000000000Z"


def frames(base: str, numbers: range | list[int], pad: int, ext: str = ".exr") -> list[str]:
    return [f"{base}{n:0{pad}d}{ext}" for n in numbers]


def test_a_sequence_with_gaps_knows_its_range_and_missing_frames() -> None:
    names = frames("sh010_comp_v003.", [n for n in range(1001, 2401) if n not in (1201, 1202,
                                                                                   1203, 1500)], 4)
    (seq,), rest = find_sequences(names)
    assert rest == []
    assert seq.name == "sh010_comp_v003.####.exr"
    assert seq.frame_range == "1001-2400"
    assert seq.missing == "1201-1203,1500"
    assert len(seq.members) == 1396 and seq.members[0] == "sh010_comp_v003.1001.exr"


def test_several_sequences_and_plain_files_in_one_folder() -> None:
    names = [*frames("sh010_comp_v003.", range(1, 11), 4), *frames("sh010_bg.", range(5, 8), 4),
             *frames("sh010_comp_v003.", range(1, 4), 4, ".jpg"), "notes.txt", "plate.0001.dpx",
             "v2.mov"]
    seqs, rest = find_sequences(names)
    got = {(s.name, s.frame_range, len(s.members)) for s in seqs}
    assert got == {("sh010_comp_v003.####.exr", "1-10", 10), ("sh010_bg.####.exr", "5-7", 3),
                   ("sh010_comp_v003.####.jpg", "1-3", 3)}
    # one frame alone is a plain file, and so is a name without a frame number
    assert sorted(rest) == ["notes.txt", "plate.0001.dpx", "v2.mov"]


def test_numbered_clips_and_documents_stay_files() -> None:
    names = ["C0001.MP4", "C0002.MP4", "A001_C003.mov", "A001_C004.mov", "edit_v1.prproj",
             "edit_v2.prproj", "mix.01.wav", "mix.02.wav"]
    assert find_sequences(names) == ([], names)
    (seq,), _ = find_sequences(["plate.0001.DPX", "plate.0002.DPX"])
    assert seq.name == "plate.####.DPX"


def test_padding_widths_are_separate_sequences() -> None:
    names = [*frames("a.", range(1, 4), 4), *frames("a.", range(1, 4), 6), *frames("b_", range(98,
                                                                                          103), 3)]
    seqs, rest = find_sequences(names)
    assert rest == []
    got = {(s.name, s.frame_range) for s in seqs}
    assert got == {("a.####.exr", "1-3"), ("a.######.exr", "1-3"), ("b_###.exr", "98-102")}
    b = next(s for s in seqs if s.name.startswith("b_"))
    assert b.members == ["b_098.exr", "b_099.exr", "b_100.exr", "b_101.exr", "b_102.exr"]


def test_negative_frames() -> None:
    names = [f"pre.{n:04d}.exr" for n in range(-5, 3) if n != -2]  # pre.-005 ... pre.0002
    (seq,), rest = find_sequences(names)
    assert rest == []
    assert seq.frames == [-5, -4, -3, -1, 0, 1, 2]
    assert seq.missing == "-2"
    assert len(seq.members) == 7
    assert compact_range([-5, -4, -3, -1, 0, 4]) == "-5--3,-1-0,4"


def entry(path: str, size: int = 1, directory: bool = False) -> dict[str, Any]:
    return {"name": path.rpartition("/")[2], "path": path, "size": 0 if directory else size,
            "isDirectory": directory, "modTime": T}


def test_tree_shows_a_sequence_as_one_expandable_node() -> None:
    shot = [entry(f"shots/sh010/sh010.{n:04d}.exr", 10) for n in range(1001, 1011) if n != 1005]
    entries = [entry("shots", directory=True), entry("shots/sh010", directory=True), *shot,
               entry("shots/sh010/notes.txt", 3), entry("shots/sh010/single.0001.exr", 4)]
    (shots,) = tree(iter(entries), sequences=True)
    (sh010,) = shots["children"]
    assert (sh010["fileCount"], sh010["totalBytes"]) == (11, 97)
    names = [n["name"] for n in sh010["children"]]
    assert names == ["notes.txt", "sh010.####.exr", "single.0001.exr"]
    seq = sh010["children"][1]
    assert seq["type"] == "sequence" and seq["path"] == "shots/sh010/sh010.####.exr"
    assert (seq["frames"], seq["missing"], seq["missingCount"]) == ("1001-1010", "1005", 1)
    assert (seq["fileCount"], seq["totalBytes"]) == (9, 90)
    assert [c["path"] for c in seq["children"]] == [e["path"] for e in shot]
    # one level below a folder, and without sequences: plain files as before
    level = tree(iter(entries), root="shots/sh010", depth=1, sequences=True)
    assert [n["name"] for n in level] == names
    plain = tree(iter(entries), root="shots/sh010", depth=1)
    assert len(plain) == 11 and all("type" not in n for n in plain)


def test_a_folder_level_stops_reading_after_the_folder() -> None:
    # Depth first, a folder's entries are one run: expanding "a" in a million-entry
    # snapshot need not read what comes after it.
    entries = [entry("a", directory=True), entry("a/b", directory=True), entry("a/b/x.mov", 5),
               entry("a/y.mov", 2), entry("a-z", directory=True), entry("a-z/w.mov"),
               entry("c", directory=True), entry("c/v.mov")]
    read: list[str] = []

    def counted() -> Iterator[dict[str, Any]]:
        for e in entries:
            read.append(e["path"])
            yield e

    level = tree(counted(), root="a", depth=1)
    assert [(n["name"], n.get("fileCount")) for n in level] == [("b", 1), ("y.mov", None)]
    assert read == ["a", "a/b", "a/b/x.mov", "a/y.mov", "a-z"]  # stopped at the first one past
    assert [n["path"] for n in tree(iter(entries), root="c")] == ["c/v.mov"]  # the last folder
