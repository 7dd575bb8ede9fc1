"""DNS-rebinding guard (Host header) and the optional API key, as ASGI middleware."""

from __future__ import annotations

import hmac
import json
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:5001
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


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
            await _deny(
                send,
                403,
                f"Host header {host!r} is not allowed: open the agent at its own address "
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
