"""GET /metrics in the Prometheus text format."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from vidsync.api.state import Agent, get_agent

router = APIRouter()


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def metrics(agent: Annotated[Agent, Depends(get_agent)]) -> PlainTextResponse:
    lines = [
        "# HELP vidsync_snapshots Snapshot records by state.",
        "# TYPE vidsync_snapshots gauge",
    ]
    for state, count in sorted(agent.db.count_snapshots_by_state().items()):
        lines.append(f'vidsync_snapshots{{state="{state}"}} {count}')
    lines += [
        "# HELP vidsync_snapshots_running Snapshots running or queued in this agent.",
        "# TYPE vidsync_snapshots_running gauge",
        f"vidsync_snapshots_running {agent.jobs.running_count}",
        "# HELP vidsync_progress_subscribers Open progress subscriptions (SSE streams).",
        "# TYPE vidsync_progress_subscribers gauge",
        f"vidsync_progress_subscribers {agent.tracker.subscriber_count}",
        "# HELP vidsync_progress_events_total Progress events published by this agent.",
        "# TYPE vidsync_progress_events_total counter",
        f"vidsync_progress_events_total {agent.tracker.published_count}",
        "# HELP vidsync_projects Registered projects.",
        "# TYPE vidsync_projects gauge",
        f"vidsync_projects {agent.db.count_projects()}",
    ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
