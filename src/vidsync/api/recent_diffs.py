"""The last few diffs the agent computed, so that paging through one reads its
manifests once.

A diff of two million-entry snapshots takes seconds, and ``vidsync diff``, the
Python client's ``iter_diff`` and the web diff view ask for it a page at a time:
before, every page computed the whole diff again. Completed snapshots never
change and their ids are never reused, so a kept diff never goes stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from vidsync.snapshot.diff import Diff

# A change holds both entries it compares (~1.5 KB): this bounds the memory kept.
MAX_CHANGES = 50_000
KEEP = 4


class RecentDiffs:
    def __init__(self, keep: int = KEEP, max_changes: int = MAX_CHANGES) -> None:
        self._keep = keep
        self._max_changes = max_changes
        self._diffs: OrderedDict[Hashable, Diff] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], Diff]) -> Diff:
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
            with self._lock:
                if len(diff.changes) <= self._max_changes:
                    self._diffs[key] = diff
                    self._trim()
            return diff

    def _trim(self) -> None:
        while len(self._diffs) > self._keep or (
            len(self._diffs) > 1
            and sum(len(d.changes) for d in self._diffs.values()) > self._max_changes
        ):
            self._diffs.popitem(last=False)
