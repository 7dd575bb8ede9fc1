"""Routes for projects and their snapshots: thin, over the service layer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from pydantic import BaseModel, Field

from vidsync.api.errors import responses
from vidsync.api.routing import api_router
from vidsync.api.state import Agent, get_agent
from vidsync.models import Project, SourceKind
from vidsync.schemas import (
    Cancelled,
    ProjectBody,
    ProjectList,
    ProjectStarted,
    SnapshotList,
    Started,
)

router = api_router()
AgentDep = Annotated[Agent, Depends(get_agent)]


class CreateProject(BaseModel):
    name: str | None = Field(default=None, max_length=200, description="Shown in lists")
    localPath: str = Field(
        max_length=65536, description="Absolute path of the project folder on this machine"
    )
    source: SourceKind = Field(default=SourceKind.LOCAL, description="local or syncthing")


def project_json(agent: Agent, project: Project) -> dict[str, Any]:
    data = project.to_json()
    current = agent.tracker.current(project.id)
    latest = agent.db.latest_snapshot(project.id)
    data["progress"] = current.to_json() if current is not None else None
    data["latestSnapshot"] = latest.to_json() if latest is not None else None
    data["runningSnapshotId"] = agent.jobs.running(project.id)
    return data


def _started(project: Project, snapshot_id: str) -> dict[str, Any]:
    base = f"/api/v1/projects/{project.id}"
    return {
        "projectId": project.id,
        "snapshotId": snapshot_id,
        "progressUrl": f"{base}/progress",
        "streamUrl": f"{base}/progress/stream?snapshotId={snapshot_id}",
    }


@router.post(
    "/projects",
    status_code=201,
    summary="Create a project",
    response_model=ProjectBody,
    responses=responses(400, 409, 413, 502),
)
def create_project(body: CreateProject, agent: AgentDep) -> dict[str, Any]:
    project = agent.create_project(body.localPath, body.name, body.source)
    return project_json(agent, project)


@router.post(
    "/projects/with-snapshot",
    status_code=202,
    summary="Create a project and start a snapshot",
    response_model=ProjectStarted,
    responses=responses(400, 409, 413, 502),
)
def create_project_with_snapshot(body: CreateProject, agent: AgentDep) -> dict[str, Any]:
    project = agent.create_project(body.localPath, body.name, body.source)
    snapshot_id = agent.start_snapshot(project)
    return {**project_json(agent, project), **_started(project, snapshot_id)}


@router.get(
    "/projects", summary="List projects with their latest snapshot state",
    response_model=ProjectList,
)
def list_projects(agent: AgentDep) -> dict[str, Any]:
    return {"projects": [project_json(agent, p) for p in agent.db.list_projects()]}


@router.get(
    "/projects/{projectId}", summary="One project", response_model=ProjectBody,
    responses=responses(404),
)
def get_project(projectId: str, agent: AgentDep) -> dict[str, Any]:
    return project_json(agent, agent.project(projectId))


@router.delete(
    "/projects/{projectId}",
    status_code=204,
    summary="Delete a project (its files stay where they are)",
    response_class=Response,
    responses=responses(404, 409, 502),
)
def delete_project(projectId: str, agent: AgentDep) -> Response:
    agent.delete_project(agent.project(projectId))
    return Response(status_code=204)


@router.post(
    "/projects/{projectId}/snapshot",
    status_code=202,
    summary="Start a snapshot",
    response_model=Started,
    responses=responses(404, 409),
)
def start_snapshot(projectId: str, agent: AgentDep) -> dict[str, Any]:
    project = agent.project(projectId)
    return _started(project, agent.start_snapshot(project))


@router.delete(
    "/projects/{projectId}/snapshot",
    status_code=202,
    summary="Cancel the running snapshot",
    response_model=Cancelled,
    responses=responses(404, 409),
)
def cancel_snapshot(projectId: str, agent: AgentDep) -> dict[str, Any]:
    project = agent.project(projectId)
    return {"projectId": project.id, "snapshotId": agent.cancel_snapshot(project)}


@router.get(
    "/projects/{projectId}/snapshots",
    summary="Snapshot history, newest first",
    response_model=SnapshotList,
    responses=responses(404),
)
def list_snapshots(
    projectId: str,
    agent: AgentDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="records to return")] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62, description="records to skip (newest first)")] = 0,
) -> dict[str, Any]:
    project = agent.project(projectId)
    records = agent.db.list_snapshots(project.id, limit=limit, offset=offset)
    total = agent.db.count_snapshots(project.id)
    return {
        "projectId": project.id,
        "snapshots": [r.to_json() for r in records],
        "offset": offset,
        "limit": limit,
        "total": total,
        "nextOffset": offset + limit if offset + limit < total else None,
    }
