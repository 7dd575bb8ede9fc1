"""Comparing two manifests: added, removed, modified and type-changed entries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Entry = dict[str, Any]  # an entry as it is in the manifest's JSON


def entry_key(entry: Entry) -> str:
    """Identity across snapshots: the exact bytes for non-UTF-8 names, else the path."""
    raw = entry.get("pathBase64")
    return "b64:" + raw if raw else entry["path"]  # type: ignore[no-any-return]


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
        default_factory=lambda: {"added": 0, "removed": 0, "modified": 0, "typeChanged": 0}
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


def diff_entries(old: Iterable[Entry], new: Iterable[Entry]) -> Diff:
    """Changes from ``old`` to ``new``. Holds the old side in memory (one dict per
    entry), streams the new side; changes come out sorted by path."""
    before: dict[str, Entry] = {entry_key(e): e for e in old}
    result = Diff()
    for after in new:
        prev = before.pop(entry_key(after), None)
        path = str(after["path"])
        if prev is None:
            result._add("added", path, None, after)
            result.bytes_added += _size(after)
        elif entry_kind(prev) != entry_kind(after):
            result._add("typeChanged", path, prev, after)
            result.modified_delta += _size(after) - _size(prev)
        elif not after.get("isDirectory") and (
            prev.get("size") != after.get("size") or prev.get("modTime") != after.get("modTime")
        ):
            result._add("modified", path, prev, after)
            result.modified_delta += _size(after) - _size(prev)
    for prev in before.values():
        result._add("removed", str(prev["path"]), prev, None)
        result.bytes_removed += _size(prev)
    result.changes.sort(key=lambda c: (c["path"], c["change"]))
    return result
