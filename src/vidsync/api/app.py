"""The agent's HTTP application: ``create_app(settings)`` wires the concrete parts."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from vidsync import __version__
from vidsync.api import agents, metrics, progress, projects, skipped, snapshots
from vidsync.api.errors import BodyLimit, install_error_handlers
from vidsync.api.recent_diffs import RecentDiffs
from vidsync.api.security import LOOPBACK_NAMES, ApiKeyGuard, HostGuard, OriginGuard
from vidsync.api.state import Agent
from vidsync.clock import Clock
from vidsync.protocol import (
    BACKOFF_DELAYS_MS,
    BACKOFF_JITTER,
    STATE_LABELS,
    STEPS,
    TERMINAL_STATES,
)
from vidsync.schemas import ClientConfig, Health
from vidsync.service import build_service
from vidsync.settings import Settings

log = logging.getLogger(__name__)


def build_agent(settings: Settings, clock: Clock | None = None) -> Agent:
    return build_service(settings, clock)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    settings.check()
    agent = build_agent(settings, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A managed Syncthing that cannot start fails the start-up, with its log.
        await anyio.to_thread.run_sync(agent.sources.syncthing.start)
        # Progress fans out on this loop: the pipeline only hands events off.
        agent.tracker.attach_loop(asyncio.get_running_loop())
        agent.start_siblings()  # with VIDSYNC_WORKERS > 1: the other processes' events
        await agent.bus.start()
        if settings.resume_interrupted:  # after Syncthing is up: its sources need it
            agent.resume_interrupted()
        try:
            yield
        finally:
            # Usually done already by the server's signal handler; off the event loop
            # either way, since it waits for worker threads.
            await anyio.to_thread.run_sync(agent.jobs.shutdown)
            await agent.bus.stop()
            await anyio.to_thread.run_sync(agent.close)

    app = FastAPI(
        title="vidsync agent",
        version=__version__,
        description="Snapshots of project folders, with live progress over SSE.",
        lifespan=lifespan,
    )
    app.state.agent = agent
    app.state.recent_diffs = RecentDiffs()
    install_error_handlers(app)
    app.include_router(projects.router)
    app.include_router(progress.router)
    app.include_router(snapshots.router)
    app.include_router(skipped.router)
    app.include_router(agents.router)
    metrics.install(app, agent)

    @app.get("/api/v1/health", summary="Liveness and configuration summary",
             response_model=Health)
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "storage": settings.effective_storage_url.split(":", 1)[0],
            "progressBus": settings.progress_bus,
            "teamBus": agent.bus.status,
            "worker": os.getpid(),
        }

    @app.get(
        "/api/v1/config",
        summary="What every client follows: steps, labels, backoff, timings",
        response_model=ClientConfig,
    )
    def client_config() -> dict[str, Any]:
        return {
            "pollIntervalMs": settings.progress_poll_interval_ms,
            "heartbeatSeconds": settings.sse_heartbeat,
            "retryMs": settings.sse_retry_ms,
            "backoff": {"delaysMs": list(BACKOFF_DELAYS_MS), "jitter": BACKOFF_JITTER},
            "totalSteps": len(STEPS),
            "steps": [
                {"stepNumber": s.step_number, "step": s.step.value, "label": s.label,
                 "unit": s.unit}
                for s in STEPS
            ],
            "terminalStates": [state.value for state in TERMINAL_STATES],
            "stateLabels": STATE_LABELS,
        }

    web = resources.files("vidsync") / "web"
    if web.is_dir() and (web / "index.html").is_file():
        app.mount("/ui", StaticFiles(directory=str(web), html=True), name="web")

        @app.get("/", include_in_schema=False)
        def index() -> Response:
            return RedirectResponse("/ui/")

    allowed = {*LOOPBACK_NAMES, settings.host, *settings.allowed_hosts}
    if settings.api_key:
        app.add_middleware(ApiKeyGuard, api_key=settings.api_key)
    app.add_middleware(BodyLimit)
    app.add_middleware(OriginGuard, allowed=allowed, port=settings.port)
    app.add_middleware(HostGuard, allowed=allowed)
    return app
