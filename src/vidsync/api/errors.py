"""Errors as JSON with a message that says what to fix; never a stack trace.

One place turns the domain errors of :mod:`vidsync.errors` into status codes,
and every error of every route has the one shape of ``schemas.ErrorBody``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidsync.errors import Conflict, Gone, InvalidInput, NotFound, Unavailable, VidsyncError, clip
from vidsync.schemas import ErrorBody

log = logging.getLogger(__name__)

# The status of each kind of domain error.
STATUS: dict[type[VidsyncError], int] = {
    InvalidInput: 400,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    Unavailable: 502,
}

_DESCRIPTIONS = {
    400: "Bad input: `detail` says what to fix, `field` names it",
    401: "Missing or wrong API key",
    403: "Host or Origin not allowed",
    404: "No such project or snapshot",
    409: "Conflicts with the current state",
    410: "The snapshot's manifest is gone from storage",
    413: "Request body over 1 MiB",
    422: "A parameter or the body does not match the schema",
    502: "A service the agent depends on (Syncthing, storage) failed",
}

MAX_BODY_BYTES = 1024 * 1024


class ApiError(VidsyncError):
    """An error that only makes sense in HTTP (a malformed header, say)."""

    def __init__(self, status: int, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message, field, **extra)
        self.status = status


def status_of(exc: VidsyncError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return 400


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error codes a route can answer."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


# Every route can answer these: the API-key guard, the Host/Origin guard, bad parameters.
COMMON_ERRORS = responses(401, 403, 422)


def error_response(status: int, message: str, field: str | None = None,
                   **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"detail": message, **extra}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def _validation_message(err: dict[str, Any]) -> tuple[str, str | None]:
    # The first item says where the input was (body, query...); a parameter may itself
    # be called "path" (files-tree, files-search), so only that first item goes.
    where_from = list(err.get("loc", ()))
    if where_from and where_from[0] in ("body", "query", "path", "header", "cookie"):
        where_from = where_from[1:]
    loc = [str(p) for p in where_from]
    if err.get("type") == "json_invalid":
        # loc is the character offset where the parser gave up.
        where = f" at character {loc[0]}" if loc else ""
        reason = (err.get("ctx") or {}).get("error", "invalid JSON")
        return f"the request body is not valid JSON{where}: {reason}", None
    name = ".".join(loc) or "request body"
    return f"{clip(name, 60)}: {err.get('msg', 'invalid')}", (loc[0] if loc else None)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VidsyncError)
    async def domain_error(request: Request, exc: VidsyncError) -> JSONResponse:
        return error_response(status_of(exc), exc.message, exc.field, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        field = None
        for err in exc.errors()[:5]:
            message, err_field = _validation_message(err)
            field = field or err_field
            problems.append(message)
        return error_response(422, "; ".join(problems) or "invalid request", field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        response = error_response(exc.status_code, detail)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, f"internal error ({type(exc).__name__}); see the agent's log")


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, before any route reads them."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(send, self.limit)
                return
        # No (or a small) Content-Length: read the body here, up to the limit.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _too_large(send, self.limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {"detail": f"request body too large: at most {limit // 1024} KiB is accepted"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
