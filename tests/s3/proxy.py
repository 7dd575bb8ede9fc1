"""A small fault-injecting HTTP proxy to put in front of a real S3 server.

Every request is forwarded unchanged (Host header included, so SigV4 signatures
still match) unless ``rule(request)`` returns a fault: an HTTP error answer,
a dropped connection, or the death of the whole proxy (the server "killed").
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "expect", "transfer-encoding", "proxy-connection"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    size: int

    @property
    def kind(self) -> str:
        """The S3 operation, as far as these tests care."""
        q = self.query
        if self.method == "PUT" and "partNumber" in q:
            return "upload_part"
        if self.method == "POST" and "uploads" in q:
            return "create"
        if self.method == "POST" and "uploadId" in q:
            return "complete"
        if self.method == "DELETE" and "uploadId" in q:
            return "abort"
        return self.method.lower()


@dataclass(frozen=True)
class Status:
    """Answer with an S3-style XML error instead of forwarding."""

    status: int
    code: str


@dataclass(frozen=True)
class Drop:
    """Close the connection without an answer (RST). ``after_forward``: once upstream did it."""

    after_forward: bool = False


@dataclass(frozen=True)
class Kill:
    """Drop this request and stop the proxy: later connections are refused."""


Fault = Status | Drop | Kill
Rule = Callable[[Request, int], Fault | None]  # (request, how many of its kind so far incl.)


@dataclass
class Seen:
    request: Request
    status: int | None  # None: no answer was sent
    at: float = 0.0


@dataclass
class FaultProxy:
    upstream: str  # http://host:port
    rule: Rule = field(default=lambda _req, _n: None)
    log: list[Seen] = field(default_factory=list)
    acked_part_bytes: int = 0  # body bytes of upload_part requests answered 200
    killed: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._conns: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        if not self.killed.is_set():
            self._kill()

    def kinds(self) -> list[tuple[str, int | None]]:
        with self._lock:
            return [(s.request.kind, s.status) for s in self.log]

    def _kill(self) -> None:
        self.killed.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            _reset(conn)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep pytest output clean

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy._conns.add(self.connection)

            def finish(self) -> None:
                with proxy._lock:
                    proxy._conns.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                req = Request(self.command, split.path, parse_qs(split.query, True), len(body))
                with proxy._lock:
                    n = proxy._counts[req.kind] = proxy._counts.get(req.kind, 0) + 1
                fault = None if proxy.killed.is_set() else proxy.rule(req, n)
                if proxy.killed.is_set() or isinstance(fault, Kill):
                    proxy._record(req, None)
                    _reset(self.connection)
                    self.close_connection = True
                    if isinstance(fault, Kill):
                        threading.Thread(target=proxy._kill, daemon=True).start()
                    return
                if isinstance(fault, Drop) and not fault.after_forward:
                    proxy._record(req, None)
                    _reset(self.connection)
                    self.close_connection = True
                    return
                if isinstance(fault, Status):
                    xml = (
                        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{fault.code}</Code>"
                        f"<Message>injected by the test proxy</Message></Error>"
                    ).encode()
                    self._answer(fault.status, [("Content-Type", "application/xml")], xml, req)
                    return
                status, headers, reply = proxy._forward(self, body)
                if isinstance(fault, Drop):
                    proxy._record(req, None)
                    _reset(self.connection)
                    self.close_connection = True
                    return
                self._answer(status, headers, reply, req)

            def _answer(
                self, status: int, headers: list[tuple[str, str]], body: bytes, req: Request
            ) -> None:
                # Counted and logged before the client can see the answer, so a test
                # that looks right after a call returns never misses it.
                if req.kind == "upload_part" and status == 200:
                    with proxy._lock:
                        proxy.acked_part_bytes += req.size
                proxy._record(req, status)
                self.send_response(status)
                has_length = False
                for name, value in headers:
                    if name.lower() in _HOP_BY_HOP:
                        continue
                    has_length = has_length or name.lower() == "content-length"
                    self.send_header(name, value)
                if not has_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                self.wfile.flush()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_any

        return Handler

    def _record(self, req: Request, status: int | None) -> None:
        with self._lock:
            self.log.append(Seen(req, status, time.monotonic()))

    def _forward(
        self, handler: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname or "", target.port, timeout=60)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
            conn.request(handler.command, handler.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheaders(), data
        finally:
            conn.close()


def _reset(conn: socket.socket) -> None:
    """Close with an RST, as a crashed server's kernel would."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        conn.close()
