"""Running the agent under uvicorn, with a shutdown that ends SSE streams cleanly."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import socket
import sys
import threading
from types import FrameType
from typing import Literal

import uvicorn

from vidsync.api.app import create_app
from vidsync.api.security import RedactSecrets
from vidsync.api.state import Agent
from vidsync.settings import Settings


class _AgentServer(uvicorn.Server):
    """On SIGTERM/SIGINT: fail running snapshots as interrupted and let every SSE
    stream deliver what it has and end, so uvicorn's graceful shutdown does not
    wait forever for endless streams."""

    agent: Agent

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        def stop_streams() -> None:
            self.agent.jobs.shutdown(timeout=5)
            self.agent.tracker.finish_all()

        threading.Thread(target=stop_streams, name="agent-shutdown", daemon=True).start()
        super().handle_exit(sig, frame)


def serving_stack() -> tuple[str, type[asyncio.Protocol] | Literal["h11"]]:
    """uvloop and httptools when installed (they are dependencies): measured with
    1,000 SSE subscribers they halve the latency of the pure-Python stack. On
    httptools the agent adds its fast path for SSE frames (``direct.py``)."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    if importlib.util.find_spec("httptools") is None:
        return loop, "h11"
    from vidsync.api.direct import DirectWriteProtocol

    return loop, DirectWriteProtocol


def serve(settings: Settings, log_level: str = "info") -> int:
    """Run the agent until stopped; the exit code. With ``settings.workers`` > 1,
    that many processes serve the one port (``api/workers.py``)."""
    settings.check()
    if settings.workers > 1:
        from vidsync.api.workers import supervise

        return supervise(settings, run_server, log_level)
    run_server(settings, log_level)
    return 0


def run_server(
    settings: Settings, log_level: str = "info", sockets: list[socket.socket] | None = None
) -> None:
    """One serving process (on ``sockets`` when a supervisor bound them)."""
    # Snapshot threads run Python code non-stop; every time the event loop lets go
    # of the GIL (each poll) it waits up to the switch interval to get it back.
    # 5 ms (the default) per fan-out step showed as tens of ms of SSE latency.
    # (VIDSYNC_SWITCH_INTERVAL: for bench_fanout.py's A/B runs only.)
    sys.setswitchinterval(float(os.environ.get("VIDSYNC_SWITCH_INTERVAL") or 0.0005))
    app = create_app(settings)
    loop, http = serving_stack()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_graceful_shutdown=8,
        loop=loop,
        http=http,
    )
    # After Config, which sets up uvicorn's loggers.
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactSecrets())
    server = _AgentServer(config)
    server.agent = app.state.agent
    server.run(sockets=sockets)
