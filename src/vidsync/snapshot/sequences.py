"""Image sequences: ``sh010_comp_v003.1001.exr`` ... ``.2400.exr`` as one entry.

Detection runs on the file names of ONE folder at a time (fileseq), so callers
group per folder while they stream and never hold a whole tree. The manifest
keeps one entry per file; sequences exist only in what is shown (tree, diff).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from fileseq.filesequence import FileSequence

Entry = dict[str, Any]

# Only frame formats make sequences: camera clips (C0001.MP4, C0002.MP4) and
# numbered edits stay separate files, each one a whole piece of footage.
FRAME_EXTENSIONS = frozenset({
    "exr", "dpx", "cin", "tif", "tiff", "png", "jpg", "jpeg", "tga", "bmp", "hdr", "psd",
    "sgi", "rgb", "rla", "iff", "pic", "ari", "dng", "jp2", "j2c", "webp", "vdb", "bgeo",
    "sc", "ass", "usd", "usda", "usdc", "abc", "obj", "ptc", "rs", "ifd",
})


_ASCII_DIGIT = re.compile("[0-9]").search


def is_frame_file(name: str) -> bool:
    """A name with a frame format's extension and a digit in it."""
    stem, dot, ext = name.rpartition(".")
    if not dot or ext.lower() not in FRAME_EXTENSIONS:
        return False
    # the regex first: a search calls this for every file of a tree
    return _ASCII_DIGIT(stem) is not None or any(c.isdigit() for c in stem)


@dataclass
class Sequence:
    """Two or more frame files of one folder that differ only by their frame number."""

    name: str  # "sh010_comp_v003.####.exr": one "#" per digit of padding
    frames: list[int]  # sorted
    members: list[str]  # file names, in frame order
    pattern: str = field(default="")  # fileseq's own spelling, "sh010.1001-2400#.exr"

    @property
    def frame_range(self) -> str:
        """First to last frame, ``"1001-2400"``; the gaps are in ``missing``."""
        first, last = self.frames[0], self.frames[-1]
        return str(first) if first == last else f"{first}-{last}"

    @property
    def missing(self) -> str:
        return compact_range(missing_frames(self.frames))


def compact_range(frames: Iterable[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1-3,7,9-10"`` (fileseq's frame-range syntax)."""
    runs: list[str] = []
    ordered = sorted(set(frames))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        runs.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(runs)


def missing_frames(frames: list[int]) -> list[int]:
    """Frames absent between the first and the last one (``frames`` sorted)."""
    if len(frames) < 2 or frames[-1] - frames[0] + 1 == len(frames):
        return []
    present = set(frames)
    return [f for f in range(frames[0], frames[-1] + 1) if f not in present]


def find_sequences(names: Iterable[str]) -> tuple[list[Sequence], list[str]]:
    """Split one folder's file names into sequences (two frames or more) and the rest.

    A name is put in a sequence only if fileseq's frame list reproduces it exactly,
    so an odd name can never be lost or counted twice.
    """
    pending = dict.fromkeys(names)
    found: list[Sequence] = []
    candidates = [n for n in pending if is_frame_file(n)]
    if len(candidates) < 2:
        return [], list(pending)
    for seq in FileSequence.findSequencesInList(candidates):
        frame_set = seq.frameSet()
        if frame_set is None or len(frame_set) < 2:
            continue
        frames = sorted(int(f) for f in frame_set)
        members = [seq.frame(f) for f in frames]
        if any(m not in pending for m in members):
            continue
        for m in members:
            del pending[m]
        name = f"{seq.basename()}{'#' * max(1, seq.zfill())}{seq.extension()}"
        found.append(Sequence(name, frames, members, str(seq)))
    return found, list(pending)


_NO_DIGITS = str.maketrans("", "", "0123456789-")
_ZEROS = str.maketrans("123456789", "000000000")


def split_sequences(frame_names: Iterable[str]) -> tuple[list[Sequence], list[str]]:
    """What :func:`find_sequences` finds among names that are all ``is_frame_file``,
    in less time on big trees (a search reads every folder). Names that differ only
    in the digits where fileseq reads the frame number, all of one width (the usual
    padded frames), are one sequence, read without fileseq's list scan: first the
    whole folder, else each group of names that are equal without their digits (the
    frames of one sequence differ only in digits). Any other group goes to
    :func:`find_sequences`.
    """
    names = list(dict.fromkeys(frame_names))
    whole = _one_run(names) if len(names) > 1 else None
    if whole is not None:  # the usual shot folder: one sequence and nothing else
        return [whole], []
    groups: dict[str, list[str]] = {}
    rest: list[str] = []
    for name in names:
        groups.setdefault(name.translate(_NO_DIGITS), []).append(name)
    found: list[Sequence] = []
    for group in groups.values():
        if len(group) < 2:
            rest.extend(group)
            continue
        quick = _one_run(group)
        if quick is not None:
            found.append(quick)
            continue
        seqs, left = find_sequences(group)
        found.extend(seqs)
        rest.extend(left)
    return found, rest


def _one_run(names: list[str]) -> Sequence | None:
    """The sequence of ``names`` if they differ only in the digits where fileseq reads
    the frame number (one width, no sign); else None."""
    first = names[0]
    span = _frame_span(first.translate(_ZEROS))
    if span is None:
        return None
    lo, hi = span
    head, tail, width = first[:lo], first[hi:], len(first)
    if not all(len(n) == width and n.startswith(head) and n.endswith(tail) for n in names):
        return None
    members = sorted(names)  # one width: by name is by frame
    digits = "".join(n[lo:hi] for n in members)
    if not (digits.isascii() and digits.isdigit()):
        return None
    return Sequence(f"{head}{'#' * (hi - lo)}{tail}", [int(n[lo:hi]) for n in members], members)


@lru_cache(maxsize=4096)
def _frame_span(shape: str) -> tuple[int, int] | None:
    """Where fileseq reads the frame number in a name whose digits are all 0.

    fileseq's parse (an ANTLR grammar, ~2 ms a name) depends on where the digits
    are, not on their values, so a whole tree of shots has a handful of shapes.
    """
    try:
        parsed = FileSequence(shape)
    except Exception:  # fileseq's parse errors vary by version: find_sequences decides
        return None
    if parsed.frameSet() is None:
        return None
    lo, hi = len(parsed.basename()), len(shape) - len(parsed.extension())
    if parsed.zfill() != hi - lo or shape[lo:hi] != "0" * (hi - lo):
        return None
    return lo, hi


def group_files(nodes: list[Entry], folder: str) -> list[Entry]:
    """Replace the frame files among one folder's tree ``nodes`` by sequence nodes.

    A sequence node is ``{"type": "sequence", "name", "path", "frames", "missing",
    "fileCount", "totalBytes", "modTime", "children"}``: its children are the frame
    entries, so a client can expand it without another request.
    """
    files = {
        str(n["name"]): n for n in nodes if not n.get("isDirectory") and not n.get("isSymlink")
    }
    sequences, _ = find_sequences(files)
    if not sequences:
        return nodes
    grouped: set[str] = set()
    out: list[Entry] = [n for n in nodes if n.get("isDirectory") or n.get("isSymlink")]
    for seq in sequences:
        members = [files[m] for m in seq.members]
        grouped.update(seq.members)
        out.append(sequence_node(seq, folder, members))
    out.extend(n for name, n in files.items() if name not in grouped)
    out.sort(key=lambda n: str(n["name"]))
    return out


def sequence_node(seq: Sequence, folder: str, members: list[Entry]) -> Entry:
    missing = missing_frames(seq.frames)
    return {
        "type": "sequence",
        "name": seq.name,
        "path": f"{folder}/{seq.name}" if folder else seq.name,
        "isDirectory": False,
        "size": sum(int(m.get("size") or 0) for m in members),
        "frames": seq.frame_range,
        "firstFrame": seq.frames[0],
        "lastFrame": seq.frames[-1],
        "missing": compact_range(missing),
        "missingCount": len(missing),
        "fileCount": len(members),
        "totalBytes": sum(int(m.get("size") or 0) for m in members),
        "modTime": max(str(m.get("modTime") or "") for m in members),
        "children": members,
    }


def _folder(path: str) -> tuple[str, str]:
    folder, _, name = path.rpartition("/")
    return folder, name


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _is_file_change(change: Entry) -> bool:
    entry = change["after"] or change["before"]
    return (change["change"] in ("added", "removed", "modified", "moved")
            and entry is not None and not entry.get("isDirectory") and "fileCount" not in change)


def compact_changes(changes: list[Entry]) -> list[Entry]:
    """Diff changes with the frames of each image sequence folded into one change.

    ``{"change": "sequence", "action": "added", "path": "sh010/sh010.####.exr",
    "frames": "2401-2448", "frameCount": 48, "bytes": N}``; a moved or renumbered
    sequence also has ``from`` and ``fromFrames``. Lone frames stay file changes.
    """
    groups: dict[tuple[str, str, str], list[Entry]] = {}
    out: list[Entry] = []
    for change in changes:
        if not _is_file_change(change):
            out.append(change)
            continue
        folder, _ = _folder(change["path"])
        origin = _folder(change["from"])[0] if change["change"] == "moved" else ""
        groups.setdefault((change["change"], folder, origin), []).append(change)
    for (action, folder, origin), items in groups.items():
        if len(items) < 2:
            out.extend(items)
            continue
        if action == "moved":
            out.extend(_compact_moves(folder, origin, items))
        else:
            out.extend(_compact(action, folder, items))
    out.sort(key=lambda c: (c["path"], c["change"], c.get("action", "")))
    return out


def _compact(action: str, folder: str, items: list[Entry]) -> list[Entry]:
    by_name = {_folder(c["path"])[1]: c for c in items}
    seqs, rest = find_sequences(by_name)
    out = [by_name[n] for n in rest]
    for seq in seqs:
        members = [by_name[m] for m in seq.members]
        if action == "modified":
            size = sum(int(c["after"].get("size") or 0) - int(c["before"].get("size") or 0)
                       for c in members)
        else:
            size = sum(int((c["after"] or c["before"]).get("size") or 0) for c in members)
        out.append({"change": "sequence", "action": action, "path": _join(folder, seq.name),
                    "name": seq.name, "frames": compact_range(seq.frames),
                    "frameCount": len(members), "bytes": size, "before": None, "after": None})
    return out


def _compact_moves(folder: str, origin: str, items: list[Entry]) -> list[Entry]:
    by_old = {_folder(c["from"])[1]: c for c in items}
    seqs, rest = find_sequences(by_old)
    out = [by_old[n] for n in rest]
    for seq in seqs:
        members = [by_old[m] for m in seq.members]
        new_names = {_folder(c["path"])[1]: c for c in members}
        new_seqs, loose = find_sequences(new_names)
        if loose or len(new_seqs) != 1:
            out.extend(members)
            continue
        new = new_seqs[0]
        out.append({"change": "sequence", "action": "moved", "path": _join(folder, new.name),
                    "name": new.name, "frames": compact_range(new.frames),
                    "from": _join(origin, seq.name), "fromFrames": compact_range(seq.frames),
                    "frameCount": len(members),
                    "bytes": sum(int(c["after"].get("size") or 0) for c in members),
                    "before": None, "after": None})
    return out
