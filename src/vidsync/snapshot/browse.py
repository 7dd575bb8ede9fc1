"""Reading a stored snapshot: pages of entries and a folder tree."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any, BinaryIO, TypeVar

from vidsync.snapshot.index import Summary
from vidsync.snapshot.manifest import read_manifest_raw, read_manifest_skipping
from vidsync.snapshot.sequences import group_files
from vidsync.storage.base import StorageError, Store

Entry = dict[str, Any]
T = TypeVar("T")


def open_entries(store: Store, url: str) -> tuple[dict[str, Any], Iterator[Entry]]:
    """Header and lazy entries of the manifest at ``url``; StorageError if unreadable."""
    return _opened(store, url, read_manifest_raw)


def open_tree_entries(store: Store, url: str, root: str = "", depth: int | None = None,
                      keep: Callable[[bytes], bool] | None = None
                      ) -> Iterator[Entry | Summary]:
    """The entries ``tree(…, root, depth)`` needs from the manifest at ``url``: the
    contents of indexed folders it shows only as totals come as Summaries, unread;
    with ``keep``, so do those whose text it does not want (``read_manifest_skipping``)."""
    suffice = totals_suffice(root, depth)
    return _opened(store, url, lambda stream: read_manifest_skipping(stream, suffice, keep))[1]


def _opened(store: Store, url: str,
            read: Callable[[BinaryIO], tuple[dict[str, Any], Iterator[T]]]
            ) -> tuple[dict[str, Any], Iterator[T]]:
    """``read`` on the manifest at ``url``: its header, and its items as they are read;
    a damaged manifest is a StorageError (then or as it is read), not a 500."""
    stream = store.open(url)
    try:
        header, items = read(stream)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        stream.close()
        raise StorageError(f"manifest {url} is damaged: {exc}") from None
    return header, _checked(url, items)


def folder_prefix(root: str) -> str:
    """What the paths below folder ``root`` start with: "a/b/" ("" for the top)."""
    folder = root.strip("/")
    return folder + "/" if folder else ""


def totals_suffice(root: str, depth: int | None) -> Callable[[str], bool]:
    """Whether ``tree(…, root, depth)`` needs only the totals of what is below a
    folder: nothing below it is listed, or it lies outside ``root``."""
    prefix = folder_prefix(root)
    base_depth = prefix.count("/")

    def suffice(folder: str) -> bool:
        if not (folder + "/").startswith(prefix):
            return not prefix.startswith(folder + "/")  # else root is below it
        return depth is not None and folder.count("/") + 1 - base_depth >= depth

    return suffice


def _checked(url: str, entries: Iterator[T]) -> Iterator[T]:
    """Entries whose read errors (truncated or spoiled gzip, bad JSON) are StorageErrors,
    not 500s."""
    try:
        yield from entries
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise StorageError(f"manifest {url} is damaged: {exc}") from None


def page(store: Store, url: str, offset: int, limit: int) -> tuple[dict[str, Any], list[Entry]]:
    header, entries = open_entries(store, url)
    try:
        return header, list(islice(entries, offset, offset + limit))
    finally:
        entries.close()  # type: ignore[attr-defined]


def tree(
    entries: Iterator[Entry | Summary], root: str = "", depth: int | None = None,
    sequences: bool = False,
) -> list[Entry]:
    """Nest DFS-ordered entries into ``children`` lists below ``root`` ("" = top).

    Folders get ``totalBytes`` and ``fileCount`` of everything below them, even
    beyond ``depth`` (so a collapsed folder still shows its size); a Summary
    stands for everything below its folder. Below a
    ``root``, reading stops at the first entry past its folder: in depth-first
    order a folder's entries are one run. With
    ``sequences``, frame files become one sequence node per sequence, folder by
    folder as each one closes.
    """
    prefix = folder_prefix(root)
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
        # A Summary counts as the entries below its folder.
        path = entry.path + "/" if isinstance(entry, Summary) else str(entry["path"])
        if prefix and not path.startswith(prefix):
            if inside:  # depth first: the folder's entries are all behind us
                break
            continue
        inside = True
        while stack and not path.startswith(stack[-1][0]):
            close_folder()
        if isinstance(entry, Summary):
            if stack:
                stack[-1][1]["totalBytes"] += entry.total_bytes
                stack[-1][1]["fileCount"] += entry.files
            continue
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
