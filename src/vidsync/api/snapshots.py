"""Routes for stored snapshots: browsing, files, tree, diff, batch."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from vidsync.api.errors import ApiError
from vidsync.api.state import SNAPSHOT_ID_RE, Agent, get_agent
from vidsync.models import Project, SnapshotRecord, SnapshotState
from vidsync.snapshot.browse import open_entries, page, tree
from vidsync.snapshot.diff import diff_entries
from vidsync.storage.base import ManifestNotFound, StorageError

router = APIRouter(prefix="/api/v1")
AgentDep = Annotated[Agent, Depends(get_agent)]
Offset = Annotated[int, Query(ge=0, description="entries to skip")]
Limit = Annotated[int, Query(ge=1, le=10_000, description="entries to return")]


def _snapshot(agent: Agent, project: Project, snapshot_id: str) -> SnapshotRecord:
    if not SNAPSHOT_ID_RE.match(snapshot_id):
        raise ApiError(404, f"no snapshot {snapshot_id!r} in project {project.id}")
    record = agent.db.get_snapshot(project.id, snapshot_id)
    if record is None:
        raise ApiError(404, f"no snapshot {snapshot_id!r} in project {project.id}")
    return record


def _manifest_url(record: SnapshotRecord) -> str:
    if record.state is not SnapshotState.COMPLETED or not record.manifest_url:
        raise ApiError(
            409, f"snapshot {record.id} is {record.state.value}: it has no manifest to read"
        )
    return record.manifest_url


def _latest_completed(agent: Agent, project: Project) -> SnapshotRecord:
    record = agent.db.latest_completed_snapshot(project.id)
    if record is not None:
        return record
    raise ApiError(404, f"project {project.id} has no completed snapshot yet: take one first")


def _storage_error(exc: StorageError) -> ApiError:
    status = 410 if isinstance(exc, ManifestNotFound) else 502
    return ApiError(status, str(exc))


def _paged(agent: Agent, record: SnapshotRecord, offset: int, limit: int) -> dict[str, Any]:
    try:
        header, entries = page(agent.store, _manifest_url(record), offset, limit)
    except StorageError as exc:
        raise _storage_error(exc) from None
    total = int(header.get("fileCount", 0)) + int(header.get("directoryCount", 0))
    return {
        "snapshot": record.to_json(),
        "entries": entries,
        "offset": offset,
        "limit": limit,
        "total": total,
        "nextOffset": offset + limit if offset + limit < total else None,
    }


@router.get("/projects/{projectId}/snapshots/{snapshotId}", summary="One snapshot, entries paged")
def get_snapshot(
    projectId: str, snapshotId: str, agent: AgentDep, offset: Offset = 0, limit: Limit = 1000
) -> dict[str, Any]:
    project = agent.project(projectId)
    record = _snapshot(agent, project, snapshotId)
    if record.state is not SnapshotState.COMPLETED:
        return {"snapshot": record.to_json(), "entries": [], "offset": offset, "limit": limit,
                "total": None, "nextOffset": None}
    return _paged(agent, record, offset, limit)


@router.get(
    "/projects/{projectId}/snapshots/{snapshotId}/events",
    summary="The progress log of one snapshot",
)
def snapshot_events(projectId: str, snapshotId: str, agent: AgentDep) -> dict[str, Any]:
    project = agent.project(projectId)
    record = _snapshot(agent, project, snapshotId)
    events = agent.db.snapshot_events(record.id)
    return {"snapshotId": record.id, "events": [e.to_json() for e in events]}


@router.get("/projects/{projectId}/files", summary="Entries of the latest snapshot, paged")
def files(
    projectId: str, agent: AgentDep, offset: Offset = 0, limit: Limit = 1000
) -> dict[str, Any]:
    project = agent.project(projectId)
    return _paged(agent, _latest_completed(agent, project), offset, limit)


@router.get(
    "/projects/{projectId}/files-tree", summary="Folder tree of a snapshot (default the latest)"
)
def files_tree(
    projectId: str,
    agent: AgentDep,
    path: Annotated[str, Query(description="folder to start from; empty = top")] = "",
    depth: Annotated[int | None, Query(ge=1, le=1000, description="levels to include")] = None,
    snapshotId: Annotated[str | None, Query(description="a snapshot; default the latest")] = None,
    sequences: Annotated[bool, Query(description="frame files as one sequence node")] = True,
) -> dict[str, Any]:
    project = agent.project(projectId)
    if snapshotId:
        record = _snapshot(agent, project, snapshotId)
    else:
        record = _latest_completed(agent, project)
    try:
        _, entries = open_entries(agent.store, _manifest_url(record))
        try:
            nodes = tree(entries, path, depth, sequences)
        finally:
            entries.close()  # type: ignore[attr-defined]
    except StorageError as exc:
        raise _storage_error(exc) from None
    return {"snapshot": record.to_json(), "path": path.strip("/"), "tree": nodes}


@router.get(
    "/projects/{projectId}/snapshots/{a}/diff/{b}",
    summary="What changed from snapshot a to snapshot b",
)
def diff(
    projectId: str, a: str, b: str, agent: AgentDep, offset: Offset = 0, limit: Limit = 1000,
    moves: Annotated[bool, Query(description="report moves and renames as one change")] = True,
    sequences: Annotated[bool, Query(description="fold frame changes per sequence")] = True,
) -> dict[str, Any]:
    project = agent.project(projectId)
    old, new = _snapshot(agent, project, a), _snapshot(agent, project, b)
    try:
        _, old_entries = open_entries(agent.store, _manifest_url(old))
        try:
            _, new_entries = open_entries(agent.store, _manifest_url(new))
            try:
                result = diff_entries(old_entries, new_entries, moves=moves, sequences=sequences)
            finally:
                new_entries.close()  # type: ignore[attr-defined]
        finally:
            old_entries.close()  # type: ignore[attr-defined]
    except StorageError as exc:
        raise _storage_error(exc) from None
    total = len(result.changes)
    return {
        "projectId": project.id,
        "from": old.id,
        "to": new.id,
        "counts": result.counts,
        "bytes": result.bytes_json(),
        "changes": result.changes[offset : offset + limit],
        "offset": offset,
        "limit": limit,
        "total": total,
        "nextOffset": offset + limit if offset + limit < total else None,
    }


class BatchRequest(BaseModel):
    projectIds: list[str] = Field(min_length=1, max_length=1000)


@router.post("/snapshots/batch", status_code=202, summary="Snapshot several projects")
def batch(body: BatchRequest, agent: AgentDep) -> dict[str, Any]:
    projects: list[Project] = []
    errors: list[dict[str, str]] = []
    for project_id in dict.fromkeys(body.projectIds):
        try:
            projects.append(agent.project(project_id))
        except ApiError as exc:  # an unknown id is reported, the others still start
            errors.append({"projectId": project_id, "detail": exc.message})
    result = agent.batch.submit(projects)
    return {
        "started": result.started,
        "queued": result.queued,
        "errors": errors + result.errors,
        "limit": agent.batch.limit,
    }
