"""The Source protocol: where the pipeline's first three steps get their data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from vidsync.cancel import CancelToken, SnapshotCancelled
from vidsync.models import FolderStatus, ManifestEntry
from vidsync.snapshot.skips import SkipLog

__all__ = [
    "CancelToken",
    "SnapshotCancelled",
    "Source",
    "SourceError",
    "SourceUnavailable",
    "StepProgress",
]


class SourceError(Exception):
    """A source cannot go on; the message is shown to the user as the snapshot error."""


class SourceUnavailable(SourceError):
    """The service behind a source (e.g. Syncthing) is down or refuses the agent:
    the agent's environment is at fault, not the request."""


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
