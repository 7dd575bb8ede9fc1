"""Comparing two manifests: added, removed, modified, type-changed and moved entries.

Both manifests list entries in the walk's order (depth-first, names sorted), so
the diff is a merge of two streams: memory holds only what changed, not a whole
manifest. Entries that appear on one side only wait in a table until the other
side catches up; with sorted input they are the real additions and removals.
Unsorted input still gives the right answer, only with more memory.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vidsync.snapshot.moves import find_moves
from vidsync.snapshot.sequences import compact_changes

Entry = dict[str, Any]  # an entry as it is in the manifest's JSON


def entry_key(entry: Entry) -> str:
    """Identity across snapshots: the exact bytes for non-UTF-8 names, else the path."""
    raw = entry.get("pathBase64")
    return "b64:" + raw if raw else entry["path"]  # type: ignore[no-any-return]


def order_key(entry: Entry) -> str:
    """Identity that also sorts like the walk: "/" below every character of a name."""
    raw = entry.get("pathBase64")
    path: str = os.fsdecode(base64.b64decode(raw)) if raw else entry["path"]
    return path.replace("/", "\x00")


def entry_kind(entry: Entry) -> str:
    if entry.get("isDirectory"):
        return "directory"
    return "symlink" if entry.get("isSymlink") else "file"


def _size(entry: Entry | None) -> int:
    if entry is None or entry.get("isDirectory"):
        return 0
    return int(entry.get("size") or 0)


@dataclass
class Diff:
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "added": 0, "removed": 0, "modified": 0, "typeChanged": 0, "moved": 0
        }
    )
    bytes_added: int = 0
    bytes_removed: int = 0
    modified_delta: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total_delta(self) -> int:
        return self.bytes_added - self.bytes_removed + self.modified_delta

    def bytes_json(self) -> dict[str, int]:
        return {
            "added": self.bytes_added,
            "removed": self.bytes_removed,
            "modifiedDelta": self.modified_delta,
            "totalDelta": self.total_delta,
        }

    def _add(self, change: str, path: str, before: Entry | None, after: Entry | None) -> None:
        self.counts[change] += 1
        self.changes.append({"change": change, "path": path, "before": before, "after": after})

    def _compare(self, prev: Entry, after: Entry) -> None:
        if entry_kind(prev) != entry_kind(after):
            self._add("typeChanged", str(after["path"]), prev, after)
            self.modified_delta += _size(after) - _size(prev)
        elif not after.get("isDirectory") and (
            prev.get("size") != after.get("size") or prev.get("modTime") != after.get("modTime")
        ):
            self._add("modified", str(after["path"]), prev, after)
            self.modified_delta += _size(after) - _size(prev)


def diff_entries(
    old: Iterable[Entry], new: Iterable[Entry], *, moves: bool = True, sequences: bool = False
) -> Diff:
    """Changes from ``old`` to ``new``, sorted by path.

    With ``moves``, a file found removed on one side and added on the other with
    the same size and time (and the same name, or as the only such pair) is one
    ``moved`` change, and a folder whose whole content moved is one line. With
    ``sequences``, frame changes of an image sequence are one ``sequence`` change
    per kind. ``counts`` always count entries, whatever the grouping.
    """
    result = Diff()
    only_old: dict[str, Entry] = {}  # seen on the old side only, so far
    only_new: dict[str, Entry] = {}
    olds, news = iter(old), iter(new)
    o, n = next(olds, None), next(news, None)
    while o is not None and n is not None:
        if o == n:  # the common case: the same entry on both sides, unchanged
            o, n = next(olds, None), next(news, None)
            continue
        if o["path"] == n["path"] and "pathBase64" not in o and "pathBase64" not in n:
            result._compare(o, n)
            o, n = next(olds, None), next(news, None)
            continue
        ko, kn = order_key(o), order_key(n)
        if ko == kn:
            if o != n:
                result._compare(o, n)
            o, n = next(olds, None), next(news, None)
        elif ko < kn:
            _side(result, ko, o, only_new, only_old, old_side=True)
            o = next(olds, None)
        else:
            _side(result, kn, n, only_old, only_new, old_side=False)
            n = next(news, None)
    while o is not None:
        _side(result, order_key(o), o, only_new, only_old, old_side=True)
        o = next(olds, None)
    while n is not None:
        _side(result, order_key(n), n, only_old, only_new, old_side=False)
        n = next(news, None)

    removed, added = list(only_old.values()), list(only_new.values())
    if moves:
        moved, removed, added = find_moves(removed, added)
        for change in moved:
            result.counts["moved"] += int(change.get("entryCount", 1))
            result.changes.append(change)
    for prev in removed:
        result._add("removed", str(prev["path"]), prev, None)
        result.bytes_removed += _size(prev)
    for after in added:
        result._add("added", str(after["path"]), None, after)
        result.bytes_added += _size(after)
    result.changes.sort(key=lambda c: (c["path"], c["change"]))
    if sequences:
        result.changes = compact_changes(result.changes)
    return result


def _side(
    result: Diff, key: str, entry: Entry, other: dict[str, Entry], mine: dict[str, Entry],
    *, old_side: bool,
) -> None:
    """An entry the other stream has not shown (yet): pair it, or keep it waiting."""
    match = other.pop(key, None)
    if match is None:
        mine[key] = entry
    elif old_side:
        result._compare(entry, match)
    else:
        result._compare(match, entry)


def mark_skipped(
    changes: list[Entry], skipped_before: set[str], skipped_after: set[str]
) -> int:
    """Mark the additions and removals that may only be entries one snapshot skipped
    (``"skippedIn": "from"`` or ``"to"``): the entry, or a folder above it, is among
    that snapshot's skipped paths (unreadable, special, vanished). How many."""

    def under(path: str, skipped: set[str]) -> bool:
        while path:
            if path in skipped:
                return True
            path = path.rpartition("/")[0]
        return False

    marked = 0
    for change in changes:
        kind = change["action"] if change["change"] == "sequence" else change["change"]
        if kind == "removed" and skipped_after and under(change["path"], skipped_after):
            change["skippedIn"] = "to"
        elif kind == "added" and skipped_before and under(change["path"], skipped_before):
            change["skippedIn"] = "from"
        else:
            continue
        marked += 1
    return marked
