"""``GET .../snapshots/{snapshotId}/skipped``: what a snapshot left out, paged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from vidsync.api.errors import responses
from vidsync.api.routing import api_router
from vidsync.api.state import Agent, get_agent
from vidsync.schemas import SkippedPage

router = api_router()
AgentDep = Annotated[Agent, Depends(get_agent)]


@router.get(
    "/projects/{projectId}/snapshots/{snapshotId}/skipped",
    summary="Entries a snapshot left out (vanished, unreadable, special), paged",
    response_model=SkippedPage,
    responses=responses(404),
)
def list_skipped(
    agent: AgentDep,
    projectId: str,
    snapshotId: str,
    offset: Annotated[int, Query(ge=0, le=2_000_000_000, description="paths to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="paths to return")] = 1000,
) -> dict[str, Any]:
    record = agent.snapshot(agent.project(projectId), snapshotId)
    stored, entries = agent.db.skipped_page(record.id, offset, limit)
    end = offset + len(entries)
    return {
        "snapshotId": record.id,
        "skippedCount": record.skipped_count,
        "skipped": record.skipped,
        "stored": stored,
        "entries": [{"kind": kind, "path": path} for kind, path in entries],
        "offset": offset,
        "limit": limit,
        "nextOffset": end if end < stored else None,
    }
