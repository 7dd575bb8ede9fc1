"""The diff on generated manifests: moves, renames, moved folders, sequence changes,
and the same answer whatever the order of the input."""

from __future__ import annotations

import random
from typing import Any

from vidsync.snapshot.diff import diff_entries

Entry = dict[str, Any]


def f(path: str, size: int = 10, t: int = 0) -> Entry:
    return {"name": path.rpartition("/")[2], "path": path, "size": size, "isDirectory": False,
            "modTime": f"2026-11-29T10:00:{t % 60:02d}.{t:09d}Z"}


def d(path: str) -> Entry:
    return {"name": path.rpartition("/")[2], "path": path, "size": 0, "isDirectory": True,
            "modTime": "2026-11-29T10:00:00.000000000Z"}


def walk_order(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: e["path"].replace("/", "\x00"))


def shot(folder: str, first: int, last: int, name: str = "sh010_comp_v003") -> list[Entry]:
    return [f(f"{folder}/{name}.{n:04d}.exr", 100 + n, n) for n in range(first, last + 1)]


def test_a_moved_shot_folder_is_one_line_with_its_file_count() -> None:
    old = walk_order([d("shots"), d("shots/sh010"), d("shots/sh010/comp"),
                      *shot("shots/sh010/comp", 1001, 1100), f("shots/sh010/notes.txt", 5, 1),
                      d("archive"), f("keep.txt")])
    new = walk_order([d("shots"), d("archive"), d("archive/sh010"), d("archive/sh010/comp"),
                      *shot("archive/sh010/comp", 1001, 1100), f("archive/sh010/notes.txt", 5, 1),
                      f("keep.txt")])
    result = diff_entries(old, new)
    (change,) = result.changes
    assert change["change"] == "moved"
    assert (change["from"], change["path"]) == ("shots/sh010", "archive/sh010")
    assert change["fileCount"] == 101
    assert change["totalBytes"] == sum(100 + n for n in range(1001, 1101)) + 5
    assert result.counts == {"added": 0, "removed": 0, "modified": 0, "typeChanged": 0,
                             "moved": 103}
    assert result.bytes_json()["totalDelta"] == 0
    # without move detection: every entry twice, as before
    plain = diff_entries(old, new, moves=False)
    assert plain.counts["removed"] == 103 and plain.counts["added"] == 103


def test_renamed_files_by_name_or_by_a_unique_match() -> None:
    old = walk_order([d("a"), d("b"), f("a/clip.mov", 50, 1), f("a/take1.mov", 60, 2),
                      f("a/same.mov", 7, 3), f("a/same2.mov", 7, 3), f("gone.mov", 8, 4)])
    new = walk_order([d("a"), d("b"), f("b/clip.mov", 50, 1), f("b/interview.mov", 60, 2),
                      f("b/x.mov", 7, 3), f("b/y.mov", 7, 3), f("new.mov", 9, 5)])
    result = diff_entries(old, new)
    moved = {(c["from"], c["path"]) for c in result.changes if c["change"] == "moved"}
    assert moved == {("a/clip.mov", "b/clip.mov"), ("a/take1.mov", "b/interview.mov")}
    # two files with the same size and time: no unique match, so no guess
    plain = {(c["change"], c["path"]) for c in result.changes if c["change"] != "moved"}
    assert plain == {("removed", "a/same.mov"), ("removed", "a/same2.mov"),
                     ("added", "b/x.mov"), ("added", "b/y.mov"),
                     ("removed", "gone.mov"), ("added", "new.mov")}
    # a file that changed size while moving is not a move
    changed = diff_entries([f("a.mov", 1, 1)], [f("b/a.mov", 2, 1)])
    assert {c["change"] for c in changed.changes} == {"added", "removed"}


def test_sequence_changes_are_compact() -> None:
    old = walk_order([d("sh010"), *shot("sh010", 1001, 2400)])
    grown = [*shot("sh010", 1001, 2448)]
    for frame in grown:
        if frame["path"].endswith((".1001.exr", ".1002.exr", ".1003.exr")):
            frame["size"] += 1
            frame["modTime"] = "2026-11-29T11:00:00.000000000Z"
    new = walk_order([d("sh010"), *grown, f("sh010/notes.txt", 3)])
    result = diff_entries(old, new, sequences=True)
    by_action = {c.get("action", c["change"]): c for c in result.changes}
    added = by_action["added"]
    assert added["change"] == "sequence" and added["path"] == "sh010/sh010_comp_v003.####.exr"
    assert (added["frames"], added["frameCount"]) == ("2401-2448", 48)
    assert added["bytes"] == sum(100 + n for n in range(2401, 2449))
    modified = by_action["modified"]
    assert (modified["frames"], modified["frameCount"], modified["bytes"]) == ("1001-1003", 3, 3)
    assert len(result.changes) == 3  # + the lone notes.txt
    assert result.counts["added"] == 49 and result.counts["modified"] == 3  # entries


def test_a_renumbered_sequence_is_one_move() -> None:
    old = walk_order([d("sh020"), *shot("sh020", 1001, 1050)])
    renumbered = [{**e, "path": e["path"].replace(".1", ".0"),
                   "name": e["name"].replace(".1", ".0")} for e in old[1:]]
    new = walk_order([d("sh020"), *renumbered])
    result = diff_entries(old, new, sequences=True)
    (change,) = result.changes
    assert change["change"] == "sequence" and change["action"] == "moved"
    assert change["from"] == change["path"] == "sh020/sh010_comp_v003.####.exr"
    assert (change["fromFrames"], change["frames"], change["frameCount"]) == (
        "1001-1050", "1-50", 50)
    assert result.counts["moved"] == 50


def test_the_answer_does_not_depend_on_the_order_of_the_input() -> None:
    old = walk_order([d("x"), *shot("x", 1, 300), f("a.txt", 1, 1), f("b.txt", 2, 2)])
    new = walk_order([d("x"), *shot("x", 5, 320), f("b.txt", 3, 2), f("c.txt", 4, 4)])
    expected = diff_entries(old, new)
    rng = random.Random(7)
    shuffled_old, shuffled_new = old[:], new[:]
    rng.shuffle(shuffled_old)
    rng.shuffle(shuffled_new)
    got = diff_entries(shuffled_old, shuffled_new)
    assert got.counts == expected.counts
    assert got.changes == expected.changes
    assert expected.counts == {"added": 21, "removed": 5, "modified": 1, "typeChanged": 0,
                               "moved": 0}
