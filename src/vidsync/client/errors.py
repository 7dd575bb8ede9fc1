"""Typed errors for answers of the agent that are not a success."""

from __future__ import annotations

from typing import Any

import httpx


class AgentError(Exception):
    """The agent answered with an error status; ``detail`` is its message.

    ``status`` is the HTTP status (``None`` when no answer came at all), ``body``
    the decoded JSON body (``{"detail": ...}`` plus extra fields such as
    ``field`` or ``snapshotId``).
    """

    def __init__(self, status: int | None, detail: str, body: dict[str, Any] | None = None):
        super().__init__(f"{status}: {detail}" if status is not None else detail)
        self.status = status
        self.detail = detail
        self.body: dict[str, Any] = body or {}

    @property
    def field(self) -> str | None:
        """The request field the error is about, when the agent says so."""
        value = self.body.get("field")
        return value if isinstance(value, str) else None


class BadRequestError(AgentError):
    """400 or 422: the request itself is wrong (a bad path, a malformed id)."""


class AuthError(AgentError):
    """401 or 403: the API key is missing or wrong, or the Host is refused."""


class NotFoundError(AgentError):
    """404: no such project or snapshot."""


class ConflictError(AgentError):
    """409: a snapshot is already running, none is running, or a duplicate folder."""


class GoneError(AgentError):
    """410: the snapshot's manifest is no longer in storage."""


class ServerError(AgentError):
    """5xx: the agent (or what it depends on, e.g. Syncthing) failed."""


class AgentUnreachable(AgentError):
    """No answer: connection refused, reset, or timed out."""

    def __init__(self, url: str, cause: Exception) -> None:
        super().__init__(None, f"agent at {url} unreachable: {cause or type(cause).__name__}")
        self.url = url


_BY_STATUS: dict[int, type[AgentError]] = {
    400: BadRequestError,
    422: BadRequestError,
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
}


def error_from_response(response: httpx.Response) -> AgentError:
    """The typed error for an error answer (the body must already be read)."""
    body: dict[str, Any] = {}
    try:
        data = response.json()
        if isinstance(data, dict):
            body = data
    except ValueError:
        pass
    detail = body.get("detail")
    if not isinstance(detail, str) or not detail:
        detail = response.text.strip()[:200] or response.reason_phrase or "error"
    status = response.status_code
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else AgentError)
    return kind(status, detail, body)
