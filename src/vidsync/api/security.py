"""DNS-rebinding guard (Host header) and the optional API key, as ASGI middleware."""

from __future__ import annotations

import hmac
import json
import logging
import re
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


# A Host header is a name, an IPv4 address or a bracketed IPv6 address, and an
# optional numeric port: nothing else (no userinfo, path, spaces...).
_HOST_RE = re.compile(
    r"(?P<name>[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_])?|\[[0-9a-f:.]{2,45}\])(?::(?P<port>[0-9]{1,5}))?"
)


def parse_host(host_header: str) -> tuple[str, int | None] | None:
    """``(name, port)`` of a Host header (IPv6 without brackets), or None if malformed."""
    match = _HOST_RE.fullmatch(host_header.lower())
    if match is None:
        return None
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port < 65536:
        return None
    return match["name"].strip("[]"), port


def _host_name(host_header: str) -> str | None:
    parsed = parse_host(host_header)
    return parsed[0] if parsed else None


class HostGuard:
    """Refuse requests whose Host is not the agent's own.

    A web page on another site can make the browser resolve its own name to
    127.0.0.1 (DNS rebinding); checking the Host header defeats that.
    """

    def __init__(self, app: ASGIApp, allowed: set[str]) -> None:
        self.app = app
        self.allowed = {h.lower().strip("[]") for h in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = ""
        for name, value in scope.get("headers", []):
            if name == b"host":
                host = value.decode("latin-1")
                break
        if _host_name(host) not in self.allowed:
            shown = host if len(host) <= 100 else host[:100] + "..."
            await _deny(
                send,
                403,
                f"Host header {shown!r} is not allowed: open the agent at its own address "
                "or add the name to VIDSYNC_ALLOWED_HOSTS",
            )
            return
        await self.app(scope, receive, send)


class ApiKeyGuard:
    """Require the API key on /api/ and /metrics (header X-API-Key, Bearer, or ?apiKey=)."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        protected = path.startswith("/api/") and path != "/api/v1/health"
        if scope["type"] != "http" or not (protected or path == "/metrics"):
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", []):
            if name == b"x-api-key":
                given = value
            elif name == b"authorization" and value.lower().startswith(b"bearer "):
                given = value[7:].strip()
        if not given:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = query.get("apiKey", [""])[0].encode()
        if not hmac.compare_digest(given, self.key):
            await _deny(send, 401, "missing or wrong API key: send it as X-API-Key")
            return
        await self.app(scope, receive, send)


_SECRET_IN_QUERY = re.compile(r"(?i)([?&](?:apikey|api_key|api-key)=)[^&#\s]*")


def redact(text: str) -> str:
    """``/x?apiKey=s3cret&a=1`` -> ``/x?apiKey=[redacted]&a=1``."""
    return _SECRET_IN_QUERY.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Keeps API keys sent as ``?apiKey=`` (EventSource cannot send headers) out of
    log lines: uvicorn's access log prints the full path with its query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class OriginGuard:
    """CSRF guard: refuse a state-changing request that a page of another site sent.

    Browsers send ``Origin`` on cross-origin POSTs (and ``Sec-Fetch-Site``), even
    "simple" ones without a body that need no CORS preflight. Requests without
    them (CLI, Python client, curl) are not from a browser page and pass.
    """

    def __init__(self, app: ASGIApp, allowed: set[str], port: int) -> None:
        self.app = app
        self.allowed = {h.lower().strip("[]") for h in allowed}
        self.port = port

    def own_origin(self, origin: str, host: str | None = None) -> bool:
        """``origin`` is the agent's own: an allowed name, and the agent's port or
        the address the browser asked for (``host``, the Host header: a reverse
        proxy on another port or scheme in front of the agent)."""
        try:
            parts = urlsplit(origin)
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return False
        if (
            parts.scheme not in ("http", "https")
            or parts.hostname is None
            or parts.hostname.strip("[]") not in self.allowed
            or parts.username
            or parts.path not in ("", "/")
        ):
            return False
        if port == self.port:
            return True
        asked = parse_host(host) if host is not None else None
        return asked is not None and asked[0] == parts.hostname.strip("[]").lower() and (
            (asked[1] or {"http": 80, "https": 443}[parts.scheme]) == port
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        origin = site = host = None
        for name, value in scope.get("headers", []):
            if name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"sec-fetch-site":
                site = value.decode("latin-1").lower()
            elif name == b"host":
                host = value.decode("latin-1")
        if site == "cross-site" or (origin is not None and not self.own_origin(origin, host)):
            if origin is None:  # refused for Sec-Fetch-Site alone
                sent = "Sec-Fetch-Site: cross-site"
            else:
                sent = "Origin " + repr(origin if len(origin) <= 100 else origin[:100] + "...")
            await _deny(
                send,
                403,
                f"cross-site request refused ({sent}): only the agent's own web UI "
                "may change things from a browser",
            )
            return
        await self.app(scope, receive, send)


async def _deny(send: Send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
