"""Moves and renames between two snapshots, found among the removed and added entries.

A file moved when a removed file and an added one have the same size and
modification time and either the same name or are the only pair with that
size and time. A folder moved when everything that was removed below it
reappears below one added folder at the same relative paths: it is reported
once, with its file count, instead of one line per file.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Hashable
from typing import Any

Entry = dict[str, Any]


def _sig(e: Entry) -> tuple[Any, Any, bool]:
    return (e.get("size"), e.get("modTime"), bool(e.get("isSymlink")))


def _name_sig(e: Entry) -> tuple[Any, ...]:
    return (e.get("name") or str(e["path"]).rpartition("/")[2], *_sig(e))


def _unique_pairs(
    removed: list[Entry], added: list[Entry], key: Callable[[Entry], Hashable]
) -> list[tuple[Entry, Entry]]:
    """Pairs whose ``key`` occurs exactly once on each side."""
    once_r = Counter(key(e) for e in removed)
    once_a = Counter(key(e) for e in added)
    by_key = {key(e): e for e in removed if once_r[key(e)] == 1}
    pairs = []
    for e in added:
        k = key(e)
        if once_a[k] == 1 and k in by_key:
            pairs.append((by_key[k], e))
    return pairs


def _file_pairs(removed: list[Entry], added: list[Entry]) -> list[tuple[Entry, Entry]]:
    files_r = [e for e in removed if not e.get("isDirectory")]
    files_a = [e for e in added if not e.get("isDirectory")]
    pairs = _unique_pairs(files_r, files_a, _name_sig)
    taken_r = {id(o) for o, _ in pairs}
    taken_a = {id(n) for _, n in pairs}
    rest_r = [e for e in files_r if id(e) not in taken_r]
    rest_a = [e for e in files_a if id(e) not in taken_a]
    return pairs + _unique_pairs(rest_r, rest_a, _sig)


def _key(path: str) -> str:
    return path.replace("/", "\x00")


def _folder_candidates(pairs: list[tuple[Entry, Entry]]) -> set[tuple[str, str]]:
    """(old folder, new folder) pairs that could explain a file move, every level."""
    found: set[tuple[str, str]] = set()
    for old, new in pairs:
        op, np = str(old["path"]).split("/"), str(new["path"]).split("/")
        common = 0
        while common < min(len(op), len(np)) and op[-1 - common] == np[-1 - common]:
            common += 1
        for k in range(1, common + 1):
            if k >= len(op) or k >= len(np):
                break
            found.add(("/".join(op[:-k]), "/".join(np[:-k])))
    return found


def find_moves(
    removed: list[Entry], added: list[Entry]
) -> tuple[list[dict[str, Any]], list[Entry], list[Entry]]:
    """Moved changes, and the removed and added entries that are left."""
    pairs = _file_pairs(removed, added)
    if not pairs:
        return [], removed, added
    moved_to = {str(o["path"]): str(n["path"]) for o, n in pairs}
    removed_dirs = {str(e["path"]): e for e in removed if e.get("isDirectory")}
    added_dirs = {str(e["path"]): e for e in added if e.get("isDirectory")}
    ordered = sorted(removed, key=lambda e: _key(str(e["path"])))
    keys = [_key(str(e["path"])) for e in ordered]

    def below(folder: str) -> list[Entry]:
        prefix = _key(folder) + "\x00"
        i = bisect.bisect_left(keys, prefix)
        j = i
        while j < len(keys) and keys[j].startswith(prefix):
            j += 1
        return ordered[i:j]

    changes: list[dict[str, Any]] = []
    gone_r: set[str] = set()  # paths of removed entries explained by a move
    gone_a: set[str] = set()
    candidates = sorted(
        (c for c in _folder_candidates(pairs) if c[0] in removed_dirs and c[1] in added_dirs),
        key=lambda c: (c[0].count("/"), c),
    )
    for old_dir, new_dir in candidates:
        if old_dir in gone_r or new_dir in gone_a:
            continue  # inside a folder move already found
        inside = below(old_dir)
        mapped: list[str] = []
        for e in inside:
            rel = str(e["path"])[len(old_dir):]
            target = new_dir + rel
            if e.get("isDirectory"):
                ok = target in added_dirs
            else:
                ok = moved_to.get(str(e["path"])) == target
            if not ok:
                break
            mapped.append(target)
        else:
            if not inside:
                continue
            files = [e for e in inside if not e.get("isDirectory")]
            gone_r.update([old_dir, *(str(e["path"]) for e in inside)])
            gone_a.update([new_dir, *mapped])
            changes.append({
                "change": "moved", "path": new_dir, "from": old_dir,
                "before": removed_dirs[old_dir], "after": added_dirs[new_dir],
                "fileCount": len(files), "totalBytes": sum(int(e.get("size") or 0) for e in files),
                "entryCount": 1 + len(inside),
            })
    for old, new in pairs:
        if str(old["path"]) in gone_r:
            continue
        gone_r.add(str(old["path"]))
        gone_a.add(str(new["path"]))
        changes.append({"change": "moved", "path": str(new["path"]), "from": str(old["path"]),
                        "before": old, "after": new})
    return (
        changes,
        [e for e in removed if str(e["path"]) not in gone_r],
        [e for e in added if str(e["path"]) not in gone_a],
    )
