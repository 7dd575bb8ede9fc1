"""Reading a stored snapshot: pages of entries and a folder tree."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from vidsync.snapshot.manifest import read_manifest_raw
from vidsync.snapshot.sequences import group_files
from vidsync.storage.base import StorageError, Store

Entry = dict[str, Any]


def open_entries(store: Store, url: str) -> tuple[dict[str, Any], Iterator[Entry]]:
    """Header and lazy entries of the manifest at ``url``; StorageError if unreadable."""
    stream = store.open(url)
    try:
        header, entries = read_manifest_raw(stream)
    except (OSError, EOFError, ValueError) as exc:
        stream.close()
        raise StorageError(f"manifest {url} is damaged: {exc}") from None
    return header, _checked(url, entries)


def _checked(url: str, entries: Iterator[Entry]) -> Iterator[Entry]:
    """Entries whose read errors (truncated gzip, bad JSON) are StorageErrors, not 500s."""
    try:
        yield from entries
    except (OSError, EOFError, ValueError) as exc:
        raise StorageError(f"manifest {url} is damaged: {exc}") from None


def page(store: Store, url: str, offset: int, limit: int) -> tuple[dict[str, Any], list[Entry]]:
    header, entries = open_entries(store, url)
    try:
        return header, list(islice(entries, offset, offset + limit))
    finally:
        entries.close()  # type: ignore[attr-defined]


def tree(
    entries: Iterator[Entry], root: str = "", depth: int | None = None, sequences: bool = False
) -> list[Entry]:
    """Nest DFS-ordered entries into ``children`` lists below ``root`` ("" = top).

    Folders get ``totalBytes`` and ``fileCount`` of everything below them, even
    beyond ``depth`` (so a collapsed folder still shows its size). Below a
    ``root``, reading stops at the first entry past its folder: in depth-first
    order a folder's entries are one run. With
    ``sequences``, frame files become one sequence node per sequence, folder by
    folder as each one closes.
    """
    prefix = root.strip("/") + "/" if root.strip("/") else ""
    base_depth = prefix.count("/")
    top: list[Entry] = []
    stack: list[tuple[str, Entry]] = []  # (path + "/", folder node) of open folders

    def close_folder() -> None:
        # Totals go to the innermost open folder only, and up one level when it
        # closes: O(entries), not O(entries x depth).
        _, done = stack.pop()
        if sequences and done["children"]:
            done["children"] = group_files(done["children"], str(done["path"]))
        if stack:
            stack[-1][1]["totalBytes"] += done["totalBytes"]
            stack[-1][1]["fileCount"] += done["fileCount"]

    inside = False
    for entry in entries:
        path = str(entry["path"])
        if prefix and not path.startswith(prefix):
            if inside:  # depth first: the folder's entries are all behind us
                break
            continue
        inside = True
        while stack and not path.startswith(stack[-1][0]):
            close_folder()
        level = path.count("/") - base_depth
        if stack and not entry.get("isDirectory"):
            stack[-1][1]["totalBytes"] += int(entry.get("size") or 0)
            stack[-1][1]["fileCount"] += 1
        if depth is not None and level >= depth:
            continue
        node = dict(entry)
        if entry.get("isDirectory"):
            node["children"] = []
            node["totalBytes"] = 0
            node["fileCount"] = 0
        (stack[-1][1]["children"] if stack else top).append(node)
        if entry.get("isDirectory"):
            stack.append((path + "/", node))
    while stack:
        close_folder()
    return group_files(top, prefix.rstrip("/")) if sequences else top
