"""Serving processes that share one journal show each other's events.

With ``vidsync serve --workers N`` every process records its events in the
shared SQLite journal, where they get their ids in commit order. Each process
runs one ``SiblingTail``: a thread that notices any commit (``PRAGMA
data_version``, a few microseconds) and gives the tracker the events recorded
after the last one it has shown, ids unchanged. One query per process per
change, never one per client. So every process serves every project's live
progress and replays exactly after any ``Last-Event-ID``, whichever process
issued it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from vidsync.models import ProgressEvent
from vidsync.progress.tracker import ProgressTracker

log = logging.getLogger(__name__)

BATCH = 1000


class SharedJournal(Protocol):
    def data_version(self) -> int: ...

    def events_after(self, global_id: int, limit: int = BATCH) -> list[ProgressEvent]: ...


class SiblingTail:
    """Follows the shared journal in a thread; ``on_change`` runs after each commit
    seen (cancel requests), ``periodic`` every ``period`` seconds (orphan checks)."""

    def __init__(
        self,
        journal: SharedJournal,
        tracker: ProgressTracker,
        *,
        interval: float = 0.003,
        on_change: Callable[[], None] | None = None,
        periodic: Callable[[], None] | None = None,
        period: float = 1.0,
    ) -> None:
        self._journal = journal
        self._tracker = tracker
        self.interval = interval
        self._on_change = on_change
        self._periodic = periodic
        self._period = period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._version: int | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sibling-tail", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def poll(self) -> int:
        """Show what sibling processes recorded since the last poll; how many events."""
        version = self._journal.data_version()
        if version == self._version:
            return 0
        self._version = version
        shown = 0
        while True:
            events = self._journal.events_after(self._tracker.last_global_id, BATCH)
            if events:
                self._tracker.ingest_siblings(events)
                shown += len(events)
            if len(events) < BATCH:
                break
        if self._on_change is not None:
            self._on_change()
        return shown

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.wait(self.interval):
            try:
                self.poll()
                if self._periodic is not None and time.monotonic() >= due:
                    due = time.monotonic() + self._period
                    self._periodic()
            except Exception:  # a busy or failing database: try again next round
                log.exception("cannot read the shared journal")
                self._stop.wait(0.5)
