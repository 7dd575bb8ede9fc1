"""Searching a stored snapshot: the matching entries as a pruned folder tree.

One pass over the DFS-ordered manifest. Only the open folders (the path to the
current entry) and the collected matches are held, so memory follows the
matches, not the manifest. With ``sequences``, frame files wait in their open
folder until it closes, because a sequence is only known once its folder is
complete; a sequence then matches by its display name (``sh010.####.exr``), its
frames never match one by one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from vidsync.snapshot.browse import folder_prefix
from vidsync.snapshot.index import Summary
from vidsync.snapshot.sequences import (
    FRAME_EXTENSIONS,
    is_frame_file,
    sequence_node,
    split_sequences,
)

Entry = dict[str, Any]
_digit = re.compile("[0-9]").search


@dataclass
class SearchResult:
    """The pruned tree and how many entries matched (``total`` counts past the cap)."""

    tree: list[Entry]
    matches: int = 0
    total: int = 0

    @property
    def truncated(self) -> bool:
        return self.total > self.matches


@dataclass(slots=True)
class _Folder:
    prefix: str  # the folder's path + "/" ("" for the top)
    node: Entry  # its tree node; ``children`` grows as matches are found
    shown: bool = False  # already linked into its parent's children
    frames: list[Entry] = field(default_factory=list)  # frame files, until it closes
    files: int = 0  # files below it, so far (written to the node when it closes)
    bytes: int = 0


class _Search:
    def __init__(self, query: str, limit: int, sequences: bool) -> None:
        self.needle = query.casefold()
        # A query with a "/" in it is about where things are: it matches the path.
        self.by_path = "/" in self.needle
        self.limit = limit
        self.sequences = sequences
        self.result = SearchResult([])
        self.stack: list[_Folder] = []

    def matches(self, name: str, path: str) -> bool:
        return self.needle in (path if self.by_path else name).casefold()

    def found(self, node: Entry, folder: _Folder) -> bool:
        """Count one match; keep ``node`` (in ``folder``) while under the cap."""
        self.result.total += 1
        if self.result.matches >= self.limit:
            return False
        self.result.matches += 1
        node["match"] = True
        self.show()
        if node is not folder.node:
            folder.node["children"].append(node)
        return True

    def show(self) -> None:
        """Link every open folder into its parent: they lead to a match."""
        for parent, child in zip(self.stack, self.stack[1:], strict=False):
            if not child.shown:
                parent.node["children"].append(child.node)
                child.shown = True

    def entry(self, entry: Entry) -> None:
        # Called once per manifest entry: kept lean (no helper calls on the way).
        path = entry["path"]
        stack = self.stack
        inner = stack[-1]
        if not path.startswith(inner.prefix):
            while len(stack) > 1 and not path.startswith(stack[-1].prefix):
                self.close()
            inner = stack[-1]
        name = entry["name"]
        if entry.get("isDirectory"):
            node = {**entry, "children": [], "totalBytes": 0, "fileCount": 0}
            folder = _Folder(path + "/", node)
            stack.append(folder)
            if self.needle in (path if self.by_path else name).casefold():
                self.found(node, folder)
            return
        inner.bytes += entry.get("size") or 0
        inner.files += 1
        if self.sequences and not entry.get("isSymlink"):
            dot = name.rfind(".")
            if (dot > 0 and name[dot + 1 :].lower() in FRAME_EXTENSIONS
                    and (_digit(name, 0, dot) is not None or is_frame_file(name))):
                inner.frames.append(entry)
                return
        if self.needle in (path if self.by_path else name).casefold():
            self.found(dict(entry), inner)

    def skipped(self, summary: Summary) -> None:
        """What is below a folder, read only as its totals (nothing there matches)."""
        stack = self.stack
        inner = summary.path + "/"
        while len(stack) > 1 and not inner.startswith(stack[-1].prefix):
            self.close()
        stack[-1].bytes += summary.total_bytes
        stack[-1].files += summary.files

    def close(self) -> None:
        done = self.stack[-1]
        if done.frames:
            before = len(done.node["children"])
            self.flush_frames(done)
            if len(done.node["children"]) > before:
                done.node["children"].sort(key=lambda n: str(n["name"]))
        self.stack.pop()
        done.node["totalBytes"], done.node["fileCount"] = done.bytes, done.files
        if self.stack:
            self.stack[-1].bytes += done.bytes
            self.stack[-1].files += done.files

    def flush_frames(self, folder: _Folder) -> None:
        frames, folder.frames = folder.frames, []
        by_name = {str(e["name"]): e for e in frames}
        # Grouping costs fileseq time: skip it where no frame and no sequence can
        # match. Without "#" or "/", a sequence name matches only if each of its
        # frame names does (the name is the frames' text with the number as ####).
        base = folder.prefix.rstrip("/")
        # The frames that match on their own, each name folded once. Grouping costs
        # fileseq time: skip it where nothing can match (without "#" or "/", a
        # sequence's name matches only if each of its frames' names does).
        hits = {name for name in by_name
                if self.matches(name, f"{base}/{name}" if base else name)}
        if not hits and "#" not in self.needle and not self.by_path:
            return
        seqs, rest = split_sequences(by_name) if len(by_name) > 1 else ([], list(by_name))
        for seq in seqs:
            path = f"{base}/{seq.name}" if base else seq.name
            # By its name, or by a frame's ("1001" finds the sequence with frame 1001):
            # once either way.
            if self.matches(seq.name, path) or not hits.isdisjoint(seq.members):
                if self.result.matches < self.limit:
                    node = sequence_node(seq, base, [by_name[m] for m in seq.members])
                    self.found(node, folder)
                else:
                    self.result.total += 1
        for name in rest:
            if name in hits:
                self.found(dict(by_name[name]), folder)


def text_may_match(query: str) -> Callable[[bytes], bool] | None:
    """A test of a folder's manifest text that is False only if nothing in it can
    match ``query``, so that its entries need not be parsed; None if the query can
    match what the text does not hold (a sequence's ``####``) or its text differs
    from the query's (JSON escapes, non-ASCII case folding)."""
    needle = query.casefold()
    if (not needle.isascii() or "#" in needle or '"' in needle or "\\" in needle
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in needle)):
        return None
    raw = needle.encode("ascii")

    def may_match(text: bytes) -> bool:
        # Non-ASCII names may fold to ASCII ("ß" to "ss"): those are parsed.
        return not text.isascii() or raw in text.lower()

    return may_match


def search(
    entries: Iterator[Entry | Summary], query: str, root: str = "", limit: int = 500,
    sequences: bool = True,
) -> SearchResult:
    """Entries below ``root`` whose name contains ``query`` (case-insensitive; a query
    with a "/" matches the path), nested in the folders that lead to them (a
    sequence matches once, by its name or by one of its frames' names); a
    Summary stands for everything below its folder, none of it matching.

    Matching folders come with their totals and the matches below them (often
    none: the client loads their content as usual). At most ``limit`` matches are
    kept, in manifest order; ``total`` still counts them all.
    """
    search_ = _Search(query, limit, sequences)
    prefix = folder_prefix(root)
    top = _Folder(prefix, {"children": [], "totalBytes": 0, "fileCount": 0}, shown=True)
    search_.stack.append(top)
    inside = False
    for entry in entries:
        path = entry.path + "/" if isinstance(entry, Summary) else str(entry["path"])
        if prefix and not path.startswith(prefix):
            if inside:  # depth first: the folder's entries are all behind us
                break
            continue
        inside = True
        if isinstance(entry, Summary):
            search_.skipped(entry)
        else:
            search_.entry(entry)
    while search_.stack:
        search_.close()
    search_.result.tree = top.node["children"]
    return search_.result
