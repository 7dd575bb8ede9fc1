"""Routes for projects and their snapshots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from vidsync.api.errors import ApiError
from vidsync.api.state import Agent, get_agent
from vidsync.models import Project, SourceKind, new_project_id
from vidsync.snapshot.jobs import SnapshotConflict
from vidsync.snapshot.local import check_folder
from vidsync.snapshot.source import SourceError
from vidsync.snapshot.syncthing.rest import SyncthingAuthError, SyncthingUnreachable

router = APIRouter(prefix="/api/v1")
AgentDep = Annotated[Agent, Depends(get_agent)]


class CreateProject(BaseModel):
    name: str | None = Field(default=None, max_length=200, description="Shown in lists")
    localPath: str = Field(description="Absolute path of the project folder on this machine")
    source: SourceKind = Field(default=SourceKind.LOCAL, description="local or syncthing")


def _check_path(raw: str) -> Path:
    text = raw.strip()
    if not text:
        raise ApiError(400, "localPath is empty: give the absolute path of a folder", "localPath")
    if "\x00" in text:
        raise ApiError(400, "localPath contains a NUL character", "localPath")
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        raise ApiError(400, f"localPath {text!r} is not an absolute path", "localPath")
    try:
        check_folder(path)  # the same check the snapshot's first step makes
    except SourceError as exc:
        raise ApiError(400, f"localPath: {exc}", "localPath") from None
    return Path(os.path.normpath(path))


def _project_json(agent: Agent, project: Project) -> dict[str, Any]:
    data = project.to_json()
    current = agent.tracker.current(project.id)
    latest = agent.db.latest_snapshot(project.id)
    data["progress"] = current.to_json() if current is not None else None
    data["latestSnapshot"] = latest.to_json() if latest is not None else None
    data["runningSnapshotId"] = agent.jobs.running(project.id)
    return data


def _create(agent: Agent, body: CreateProject) -> Project:
    path = _check_path(body.localPath)
    existing = agent.db.find_project_by_path(str(path))
    if existing is not None:
        raise ApiError(
            409,
            f"{path} is already the folder of project {existing.name!r} ({existing.id})",
            "localPath",
            projectId=existing.id,
        )
    name = (body.name or "").strip() or path.name or str(path)
    project = Project(
        id=new_project_id(),
        name=name,
        local_path=str(path),
        source=body.source,
        created_at=agent.clock.time(),
    )
    try:
        agent.register_source(project)
    except SourceError as exc:
        raise ApiError(_source_status(exc), str(exc), "source") from None
    agent.db.add_project(project)
    return project


def _source_status(exc: SourceError) -> int:
    # Syncthing down or refusing our key is the agent's environment (502), not bad input.
    if isinstance(exc, SyncthingUnreachable | SyncthingAuthError):
        return 502
    return 400


def _start(agent: Agent, project: Project) -> str:
    try:
        return agent.jobs.start(project)
    except SnapshotConflict as exc:
        raise ApiError(409, str(exc), snapshotId=exc.snapshot_id) from None


def _started(project: Project, snapshot_id: str) -> dict[str, Any]:
    base = f"/api/v1/projects/{project.id}"
    return {
        "projectId": project.id,
        "snapshotId": snapshot_id,
        "progressUrl": f"{base}/progress",
        "streamUrl": f"{base}/progress/stream?snapshotId={snapshot_id}",
    }


@router.post("/projects", status_code=201, summary="Create a project")
def create_project(body: CreateProject, agent: AgentDep) -> dict[str, Any]:
    return _project_json(agent, _create(agent, body))


@router.post(
    "/projects/with-snapshot", status_code=202, summary="Create a project and start a snapshot"
)
def create_project_with_snapshot(body: CreateProject, agent: AgentDep) -> dict[str, Any]:
    project = _create(agent, body)
    return {**_project_json(agent, project), **_started(project, _start(agent, project))}


@router.get("/projects", summary="List projects with their latest snapshot state")
def list_projects(agent: AgentDep) -> dict[str, Any]:
    return {"projects": [_project_json(agent, p) for p in agent.db.list_projects()]}


@router.get("/projects/{projectId}", summary="One project")
def get_project(projectId: str, agent: AgentDep) -> dict[str, Any]:
    return _project_json(agent, agent.project(projectId))


@router.delete("/projects/{projectId}", status_code=204, summary="Delete a project")
def delete_project(projectId: str, agent: AgentDep) -> Response:
    project = agent.project(projectId)
    agent.jobs.cancel(project.id)
    if not agent.jobs.wait(project.id, timeout=10):
        # Deleting now would lose the snapshot's record and orphan its manifest.
        raise ApiError(409, f"the snapshot of project {project.id} is still stopping: try again")
    try:
        agent.unregister_source(project)
    except SourceError as exc:
        raise ApiError(
            _source_status(exc), f"cannot remove the folder from Syncthing: {exc}"
        ) from None
    agent.db.delete_project(project.id)
    agent.tracker.forget(project.id)
    return Response(status_code=204)


@router.post("/projects/{projectId}/snapshot", status_code=202, summary="Start a snapshot")
def start_snapshot(projectId: str, agent: AgentDep) -> dict[str, Any]:
    project = agent.project(projectId)
    return _started(project, _start(agent, project))


@router.delete(
    "/projects/{projectId}/snapshot", status_code=202, summary="Cancel the running snapshot"
)
def cancel_snapshot(projectId: str, agent: AgentDep) -> JSONResponse:
    project = agent.project(projectId)
    snapshot_id = agent.jobs.cancel(project.id)
    if snapshot_id is None:
        raise ApiError(409, f"no snapshot of project {project.id} is running")
    return JSONResponse({"projectId": project.id, "snapshotId": snapshot_id}, status_code=202)


@router.get("/projects/{projectId}/snapshots", summary="Snapshot history, newest first")
def list_snapshots(projectId: str, agent: AgentDep, limit: int = 100) -> dict[str, Any]:
    project = agent.project(projectId)
    if not 1 <= limit <= 1000:
        raise ApiError(400, "limit must be between 1 and 1000")
    records = agent.db.list_snapshots(project.id, limit=limit)
    return {"projectId": project.id, "snapshots": [r.to_json() for r in records]}
