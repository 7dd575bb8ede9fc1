"""The last few diffs the agent computed, so that paging through one reads its
manifests once.

A diff of two million-entry snapshots takes seconds, and ``vidsync diff``, the
Python client's ``iter_diff`` and the web diff view ask for it a page at a time:
before, every page computed the whole diff again. Completed snapshots never
change and their ids are never reused, so a kept diff never goes stale.

A change held as Python dicts takes ~1.2 KB, so a diff with many changes is
kept packed: its changes as JSON, deflated in chunks of ``CHUNK`` (~19 bytes a
change for a render's frames). A page then inflates one or two chunks.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from pydantic_core import from_json, to_json

from vidsync.snapshot.diff import Diff

KEEP = 4
MAX_BYTES = 64 * 1024 * 1024  # all kept diffs together
CHANGE_BYTES = 1200  # one change as dicts, for the budget
PACK_OVER = 10_000  # diffs with more changes are kept packed (4-5 µs a change)
CHUNK = 1000


class KeptDiff:
    """A diff's totals, and its changes a page at a time."""

    def __init__(self, diff: Diff, pack: bool) -> None:
        self.counts = diff.counts
        self.bytes = diff.bytes_json()
        self.total = len(diff.changes)
        changes = diff.changes
        if pack:
            self._changes: list[dict[str, Any]] | None = None
            self._chunks = [zlib.compress(to_json(changes[i : i + CHUNK]), 1)
                            for i in range(0, len(changes), CHUNK)]
            self.size = sum(map(len, self._chunks))
        else:
            self._changes, self._chunks = changes, []
            self.size = len(changes) * CHANGE_BYTES

    def page(self, offset: int, limit: int) -> list[dict[str, Any]]:
        if self._changes is not None:
            return self._changes[offset : offset + limit]
        first = offset // CHUNK
        rows: list[dict[str, Any]] = []
        for chunk in self._chunks[first : (offset + limit - 1) // CHUNK + 1]:
            rows.extend(from_json(zlib.decompress(chunk)))
        start = offset - first * CHUNK
        return rows[start : start + limit]


class RecentDiffs:
    def __init__(
        self, keep: int = KEEP, max_bytes: int = MAX_BYTES, pack_over: int = PACK_OVER
    ) -> None:
        self._keep = keep
        self._max_bytes = max_bytes
        self._pack_over = pack_over
        self._diffs: OrderedDict[Hashable, KeptDiff] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], Diff]) -> KeptDiff:
        """The diff kept under ``key``, else ``compute()`` (once at a time per key:
        a second request for it waits for the first) and kept if small enough."""
        with self._lock:
            one = self._computing.setdefault(key, threading.Lock())
        with one:
            with self._lock:
                if key in self._diffs:
                    self._diffs.move_to_end(key)
                    return self._diffs[key]
            try:
                diff = compute()
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            kept = KeptDiff(diff, pack=len(diff.changes) > self._pack_over)
            with self._lock:
                if kept.size <= self._max_bytes:
                    self._diffs[key] = kept
                    self._trim()
            return kept

    def _trim(self) -> None:
        while len(self._diffs) > self._keep or (
            len(self._diffs) > 1
            and sum(d.size for d in self._diffs.values()) > self._max_bytes
        ):
            self._diffs.popitem(last=False)
