"""Running the agent under uvicorn, with a shutdown that ends SSE streams cleanly."""

from __future__ import annotations

import logging
import threading
from types import FrameType

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


def serve(settings: Settings, log_level: str = "info") -> None:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_graceful_shutdown=8,
    )
    # After Config, which sets up uvicorn's loggers.
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactSecrets())
    server = _AgentServer(config)
    server.agent = app.state.agent
    server.run()
