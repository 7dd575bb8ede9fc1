"""The Source protocol: where the pipeline's first three steps get their data."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

from vidsync.models import FolderStatus, ManifestEntry
from vidsync.snapshot.skips import SkipLog


class SnapshotCancelled(Exception):
    """Raised inside the pipeline when the user cancels the snapshot."""


class SourceError(Exception):
    """A source cannot go on; the message is shown to the user as the snapshot error."""


class CancelToken:
    """Set by the API when the user cancels; checked by the pipeline and sources."""

    def __init__(self) -> None:
        self._event = threading.Event()
        # Set when the agent (not the user) stops the snapshot: it then fails with this.
        self.reason: str | None = None

    def cancel(self, reason: str | None = None) -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    @property
    def event(self) -> threading.Event:
        """Set on cancel: for code that waits on events rather than polling."""
        return self._event

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise SnapshotCancelled()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True (at once) if cancelled meanwhile."""
        return self._event.wait(seconds)


class StepProgress(Protocol):
    """What a source reports within a step. Every call is cheap and never blocks."""

    def set_message(self, message: str) -> None: ...

    def set_total(self, total: float | None) -> None: ...

    def set_done(self, done: float) -> None: ...

    def advance(self, amount: float = 1) -> None: ...


class Source(Protocol):
    """A folder to snapshot: local walk, Syncthing, ... Methods run in a worker thread."""

    def wait_ready(self, progress: StepProgress, cancel: CancelToken) -> None:
        """Step 1: return once the folder's contents are settled (e.g. a scan is done)."""
        ...

    def status(self, progress: StepProgress, cancel: CancelToken) -> FolderStatus:
        """Step 2: counts and bytes, where the source knows them before browsing."""
        ...

    def entries(self, progress: StepProgress, cancel: CancelToken) -> Iterator[ManifestEntry]:
        """Step 3: every entry, directories before their children, in a stable order.

        Calls ``progress.advance()`` per entry. Entries that vanish, cannot be
        read or are special files are skipped and recorded in ``skips``. Raises
        SourceError if the folder itself vanishes or becomes unreadable.
        """
        ...

    @property
    def skips(self) -> SkipLog:
        """Entries left out, by kind, with the first paths."""
        ...

    @property
    def skipped(self) -> int:
        """How many entries were left out (``skips.total``)."""
        ...

    def check_root(self) -> None:
        """Raise SourceError if the folder vanished or became unreadable."""
        ...
