"""``GET .../snapshots/{snapshotId}/skipped``: what a snapshot left out, paged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from vidsync.api.errors import ApiError
from vidsync.api.state import SNAPSHOT_ID_RE, Agent, get_agent

router = APIRouter(prefix="/api/v1")
AgentDep = Annotated[Agent, Depends(get_agent)]


@router.get(
    "/projects/{projectId}/snapshots/{snapshotId}/skipped",
    summary="Entries a snapshot left out (vanished, unreadable, special), paged",
)
def list_skipped(
    agent: AgentDep,
    projectId: str,
    snapshotId: str,
    offset: Annotated[int, Query(ge=0, description="paths to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="paths to return")] = 1000,
) -> dict[str, Any]:
    project = agent.project(projectId)
    record = agent.db.get_snapshot(project.id, snapshotId) if SNAPSHOT_ID_RE.match(
        snapshotId) else None
    if record is None:
        raise ApiError(404, f"no snapshot {snapshotId!r} in project {project.id}")
    # Clamped: an offset past SQLite's integers is just past the end, not a 500.
    stored, entries = agent.db.skipped_page(record.id, min(offset, 2**62), limit)
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
