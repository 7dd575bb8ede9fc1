"""The agent's HTTP application: ``create_app(settings)`` wires the concrete parts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from vidsync import __version__
from vidsync.api import agents, metrics, progress, projects, snapshots
from vidsync.api.errors import install_error_handlers
from vidsync.api.security import LOOPBACK_NAMES, ApiKeyGuard, HostGuard
from vidsync.api.state import Agent, SourceFactory
from vidsync.clock import Clock, SystemClock
from vidsync.progress.bus import open_bus
from vidsync.progress.tracker import ProgressTracker
from vidsync.settings import Settings
from vidsync.snapshot.batch import BatchRunner
from vidsync.snapshot.jobs import Jobs
from vidsync.snapshot.pipeline import run_snapshot
from vidsync.snapshot.process import ProcessRunner
from vidsync.snapshot.recovery import recover
from vidsync.storage import open_store
from vidsync.store.db import Database

log = logging.getLogger(__name__)


def build_agent(settings: Settings, clock: Clock | None = None) -> Agent:
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_path)
    tracker = ProgressTracker(
        buffer_size=settings.progress_buffer_size,
        ring_size=settings.progress_ring_size,
        retention=settings.progress_retention,
        clock=clock,
        journal=db.append_event,
        agent=settings.agent_name,
    )
    store = open_store(settings)
    sources = SourceFactory(settings, clock)
    jobs = Jobs(
        tracker=tracker,
        log=db,
        store=store,
        work_dir=settings.work_dir,
        source_for=sources,
        clock=clock,
        throttle=settings.throttle,
        runner=ProcessRunner(settings, tracker.publish) if settings.snapshot_process
        else run_snapshot,
    )
    recover(db, tracker, store, settings.work_dir, clock)
    batch = BatchRunner(jobs, settings.batch_concurrency)
    bus = open_bus(settings.progress_bus, tracker, name=settings.agent_name,
                   agent_url=settings.agent_url, clock=clock.time,
                   retention=settings.progress_retention, heartbeat=settings.agent_heartbeat)
    return Agent(settings, clock, db, tracker, store, jobs, sources, batch, bus)


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
        await agent.bus.start()
        try:
            yield
        finally:
            # Usually done already by the server's signal handler; off the event loop
            # either way, since it waits for worker threads.
            await anyio.to_thread.run_sync(agent.jobs.shutdown)
            await agent.bus.stop()
            agent.sources.syncthing.stop()
            agent.db.close()

    app = FastAPI(
        title="vidsync agent",
        version=__version__,
        description="Snapshots of project folders, with live progress over SSE.",
        lifespan=lifespan,
    )
    app.state.agent = agent
    install_error_handlers(app)
    app.include_router(projects.router)
    app.include_router(progress.router)
    app.include_router(snapshots.router)
    app.include_router(metrics.router)
    app.include_router(agents.router)

    @app.get("/api/v1/health", summary="Liveness and configuration summary")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "storage": settings.effective_storage_url.split(":", 1)[0],
            "progressBus": settings.progress_bus,
            "teamBus": agent.bus.status,
        }

    @app.get("/api/v1/config", summary="Client settings the web UI and clients follow")
    def client_config() -> dict[str, Any]:
        return {
            "pollIntervalMs": settings.progress_poll_interval_ms,
            "heartbeatSeconds": settings.sse_heartbeat,
            "retryMs": settings.sse_retry_ms,
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
    app.add_middleware(HostGuard, allowed=allowed)
    return app
