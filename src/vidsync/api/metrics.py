"""Prometheus metrics (prometheus-client), and the reports clients send about their link.

Every metric lives in a registry owned by the app, so two apps in one process
never clash. With ``PROMETHEUS_MULTIPROC_DIR`` set (several server processes),
each process writes its samples there and ``/metrics`` adds them all up with
``MultiProcessCollector``; facts read from the shared database (projects,
snapshots by state) are counted once, by the process that answers the scrape.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Body, Depends, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidsync.api.errors import responses
from vidsync.api.routing import api_router
from vidsync.api.state import Agent
from vidsync.clock import Clock
from vidsync.models import ProgressEvent
from vidsync.settings import SettingsError
from vidsync.store.db import Database

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
FrameHook = Callable[[ProgressEvent], None]

STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
FALLBACK_BUCKETS = (0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


@dataclass
class _Run:
    step_number: int  # QUEUED while a batch snapshot waits for a slot
    since: float  # timestamp of the event that started the step


QUEUED = 0


class AgentMetrics:
    """The agent's metrics; fed by the tracker, the SSE streams and the clients."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.registry = CollectorRegistry()
        reg = self.registry
        self.events = Counter(
            "vidsync_progress_events", "Progress events published.", registry=reg
        )
        self.running = Gauge(
            "vidsync_snapshots_running",
            "Snapshots running or queued.",
            multiprocess_mode="livesum",
            registry=reg,
        )
        self.steps_started = Counter(
            "vidsync_snapshot_steps_started",
            "Snapshot steps started, by stepNumber.",
            ["step"],
            registry=reg,
        )
        self.step_seconds = Histogram(
            "vidsync_snapshot_step_duration_seconds",
            "Time a snapshot spent in each step, by stepNumber.",
            ["step"],
            buckets=STEP_BUCKETS,
            registry=reg,
        )
        self.ended = Counter(
            "vidsync_snapshots_ended",
            "Snapshots ended, by state and by the stepNumber they ended at.",
            ["state", "step"],
            registry=reg,
        )
        self.connections = Counter(
            "vidsync_sse_connections",
            "Progress stream requests by outcome: opened, resumed (with Last-Event-ID), "
            "finished (204) or refused (4xx).",
            ["stream", "outcome"],
            registry=reg,
        )
        self.resyncs = Counter(
            "vidsync_sse_resyncs",
            "Resumed streams that got the full state (resync) instead of the missed events.",
            registry=reg,
        )
        self.subscribers = Gauge(
            "vidsync_progress_subscribers",
            "Open SSE progress streams.",
            multiprocess_mode="livesum",
            registry=reg,
        )
        self.latency = Histogram(
            "vidsync_progress_event_latency_seconds",
            "From an event's timestamp to its SSE frame being written (live events only).",
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.abandoned = Counter(
            "vidsync_manifest_reads_abandoned",
            "Tree, search and diff requests stopped before the end of the manifest "
            "because their client left, by route.",
            ["route"],
            registry=reg,
        )
        self.fallback_seconds = Histogram(
            "vidsync_client_fallback_seconds",
            "Clients' time from losing the stream to polling, as they report it.",
            ["client"],
            buckets=FALLBACK_BUCKETS,
            registry=reg,
        )
        self.client_errors = Counter(
            "vidsync_client_sse_errors",
            "Stream connection failures reported by clients.",
            ["client"],
            registry=reg,
        )
        reg.register(DatabaseCollector(db))
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}

    # -- tracker listener --------------------------------------------------------

    def on_event(self, event: ProgressEvent) -> None:
        """Count one published event and follow its snapshot's steps.

        Called by the publisher for every event: most events stay in their step
        and cost a counter and a dictionary look-up.
        """
        self.events.inc()
        key = event.snapshot_id or event.project_id
        number = QUEUED if event.queued and not event.terminal else event.step_number
        with self._lock:
            run = self._runs.get(key)
            if run is not None and run.step_number == number and not event.terminal:
                return
            step = str(number)
            if event.terminal:
                self._runs.pop(key, None)
                if run is not None:
                    self._step_ended(run, event.timestamp)
                self.ended.labels(state=event.step.value, step=step).inc()
            elif run is None:
                self._runs[key] = _Run(number, event.timestamp)
                if number != QUEUED:
                    self.steps_started.labels(step=step).inc()
            else:
                self._step_ended(run, event.timestamp)
                run.step_number, run.since = number, event.timestamp
                self.steps_started.labels(step=step).inc()
            self.running.set(len(self._runs))

    def _step_ended(self, run: _Run, at: float) -> None:
        if run.step_number == QUEUED:  # waiting for a slot is no step's time
            return
        self.step_seconds.labels(step=str(run.step_number)).observe(max(0.0, at - run.since))

    # -- streams -----------------------------------------------------------------

    def stream_hook(self) -> FrameHook:
        """A hook for one SSE stream, called after each frame is written."""
        opened = self.clock.time()

        def sent(event: ProgressEvent) -> None:
            if event.resync:
                self.resyncs.inc()
            elif event.timestamp >= opened:  # not a backlog event from before the client came
                self.latency.observe(max(0.0, self.clock.time() - event.timestamp))

        return sent

    # -- exposition --------------------------------------------------------------

    def render(self) -> bytes:
        path = multiprocess_dir()
        if path is None:
            return generate_latest(self.registry)
        # Every process's samples from the shared directory; the database once.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        registry.register(DatabaseCollector(self.db))
        return generate_latest(registry)


class DatabaseCollector(Collector):
    """Facts of the shared database, read at scrape time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterable[Metric]:
        snapshots = GaugeMetricFamily(
            "vidsync_snapshots", "Snapshot records by state.", labels=["state"]
        )
        for state, count in sorted(self.db.count_snapshots_by_state().items()):
            snapshots.add_metric([state], count)
        yield snapshots
        yield GaugeMetricFamily(
            "vidsync_projects", "Registered projects.", value=self.db.count_projects()
        )


class StreamOutcomes:
    """ASGI middleware: counts progress stream requests by outcome, and open streams."""

    def __init__(self, app: ASGIApp, metrics: AgentMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.endswith("/progress/stream"):
            await self.app(scope, receive, send)
            return
        stream = "all" if path == "/api/v1/progress/stream" else "project"
        open_stream = False

        async def watch(message: Message) -> None:
            nonlocal open_stream
            if message["type"] == "http.response.start":
                status: int = message["status"]
                if status == 200:
                    outcome = "resumed" if _resumes(scope) else "opened"
                    open_stream = True
                    self.metrics.subscribers.inc()
                else:
                    outcome = "finished" if status == 204 else "refused"
                self.metrics.connections.labels(stream=stream, outcome=outcome).inc()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if open_stream:
                self.metrics.subscribers.dec()


def _resumes(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"last-event-id" and value.strip():
            return True
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return any(v.strip() for v in query.get("lastEventId", []))


# -- routes ---------------------------------------------------------------------

ClientName = Literal["web", "python", "cli"]


class FallbackReport(BaseModel):
    """A client started polling ``seconds`` after its stream was lost."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["fallback"]
    client: ClientName
    seconds: float = Field(ge=0, le=3600, allow_inf_nan=False)


class SseErrorReport(BaseModel):
    """A client's stream connection attempt failed."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["sse-error"]
    client: ClientName


ClientReport = Annotated[FallbackReport | SseErrorReport, Field(discriminator="kind")]

router = APIRouter()
api = api_router()


def get_metrics(request: Request) -> AgentMetrics:
    metrics: AgentMetrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[AgentMetrics, Depends(get_metrics)]


def count_abandoned(request: Request, route: str) -> None:
    """A manifest read stopped because its client left (``vidsync_manifest_reads_abandoned``)."""
    metrics: AgentMetrics | None = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.abandoned.labels(route=route).inc()


def frame_hook(request: Request) -> FrameHook | None:
    """For a stream route: its hook, called after each SSE frame is written."""
    metrics: AgentMetrics | None = getattr(request.app.state, "metrics", None)
    return metrics.stream_hook() if metrics is not None else None


FrameHookDep = Annotated[FrameHook | None, Depends(frame_hook)]


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics_text(metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


@api.post(
    "/client-metrics",
    status_code=204,
    response_class=Response,
    responses=responses(400, 413),
    summary="A client reports a stream failure or its time to fall back to polling",
)
def client_report(report: Annotated[ClientReport, Body()], metrics: MetricsDep) -> Response:
    if isinstance(report, FallbackReport):
        metrics.fallback_seconds.labels(client=report.client).observe(report.seconds)
    else:
        metrics.client_errors.labels(client=report.client).inc()
    return Response(status_code=204)


def install(app: FastAPI, agent: Agent) -> AgentMetrics:
    """Create the app's metrics and wire them to the tracker, the streams and the routes."""
    shared = multiprocess_dir()
    if shared is not None and not os.path.isdir(shared):
        raise SettingsError(
            f"{MULTIPROC_ENV}={shared!r} is not a directory: create an empty one (a fresh "
            "one at each start) for the agent's processes to share, or unset it"
        )
    metrics = AgentMetrics(agent.db, agent.clock)
    agent.tracker.add_listener(metrics.on_event)
    app.state.metrics = metrics
    app.include_router(router)
    app.include_router(api)
    app.add_middleware(StreamOutcomes, metrics=metrics)
    if shared is not None:
        # A stopped process's live gauges (running, subscribers) must stop counting.
        atexit.register(multiprocess.mark_process_dead, os.getpid())
    return metrics
