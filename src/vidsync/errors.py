"""What can go wrong in a use-case, said for the user; the API maps each kind to a status."""

from __future__ import annotations

from typing import Any


class VidsyncError(Exception):
    """A use-case failed; ``message`` says what to fix, ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra


class InvalidInput(VidsyncError):
    """The request itself is wrong (a path that is not a folder, an id that is malformed)."""


class NotFound(VidsyncError):
    """No such project or snapshot."""


class Conflict(VidsyncError):
    """The request clashes with the current state (a snapshot already runs...)."""


class Gone(VidsyncError):
    """It existed, but its data is no longer there (a deleted manifest)."""


class Unavailable(VidsyncError):
    """Something the agent depends on (Syncthing, storage) failed: not the caller's fault."""


def clip(text: str, limit: int = 120) -> str:
    """``text`` made safe to echo in an error: shortened, so huge input is never
    echoed whole, and with lone surrogates escaped, so it can be sent as UTF-8."""
    if len(text) > limit:
        text = f"{text[: limit - 1]}…"
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
