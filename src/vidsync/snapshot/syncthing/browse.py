"""Step 3 from Syncthing's index (``/rest/db/browse``) instead of a walk of the disk.

Not the default (see the README for the measurements and why): Syncthing leaves
out names it refuses to share (not UTF-8, not NFC) and records neither the size
nor the modification time of a symlink, so those are read from disk here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from vidsync.models import ManifestEntry
from vidsync.snapshot.source import CancelToken, StepProgress
from vidsync.snapshot.syncthing.rest import SyncthingRest

# RFC 3339 with up to nine fraction digits, as Go writes time.Time.
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def parse_time_ns(text: str) -> int:
    """Nanoseconds since the epoch; datetime alone would drop the last three digits."""
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    whole, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    seconds = int(datetime.fromisoformat(whole + zone).timestamp())
    return seconds * 1_000_000_000 + int((fraction or "").ljust(9, "0"))


def browse_entries(
    rest: SyncthingRest,
    folder_id: str,
    root: Path,
    progress: StepProgress,
    cancel: CancelToken,
) -> Iterator[ManifestEntry]:
    """Entries in the local walk's order: depth-first, names sorted as Python sorts str."""
    tree = rest.browse(folder_id)
    stack: list[tuple[str, list[dict[str, Any]]]] = [("", _sorted(tree))]
    count = 0
    while stack:
        prefix, pending = stack[-1]
        if not pending:
            stack.pop()
            continue
        node = pending.pop()
        count += 1
        if count & 255 == 0:
            cancel.check()
        rel = prefix + str(node["name"])
        kind = node.get("type")
        if kind == "FILE_INFO_TYPE_DIRECTORY":
            yield ManifestEntry(rel, 0, True, parse_time_ns(node["modTime"]))
            stack.append((rel + "/", _sorted(node.get("children") or [])))
        elif kind == "FILE_INFO_TYPE_SYMLINK":
            try:
                st = os.lstat(root / rel)
            except FileNotFoundError:
                continue
            yield ManifestEntry(rel, st.st_size, False, st.st_mtime_ns, True)
        else:
            yield ManifestEntry(rel, int(node["size"]), False, parse_time_ns(node["modTime"]))
        progress.advance()


def _sorted(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reversed, so that pop() gives the next name."""
    return sorted(nodes, key=lambda node: str(node["name"]), reverse=True)
