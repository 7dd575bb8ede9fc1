"""Cancelling a snapshot: the token the API sets and every layer checks."""

from __future__ import annotations

import threading


class SnapshotCancelled(Exception):
    """Raised inside the pipeline when the user cancels the snapshot."""


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
