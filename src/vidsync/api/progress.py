"""Progress routes: poll, per-project SSE stream, all-projects SSE stream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Query, Response

from vidsync.api.errors import ApiError, responses
from vidsync.api.metrics import FrameHookDep
from vidsync.api.routing import api_router
from vidsync.api.sse import EventStreamResponse
from vidsync.api.state import SNAPSHOT_ID_RE, Agent, get_agent
from vidsync.errors import clip
from vidsync.models import ProgressEvent, Project, SnapshotState, idle_event
from vidsync.progress.subscription import Subscription
from vidsync.schemas import ProgressEventBody

router = api_router()
_SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An event stream (text/event-stream); each `data:` is a progress event",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
}
AgentDep = Annotated[Agent, Depends(get_agent)]

_STREAM_DOC = (
    "Server-Sent Events: the current state at once, then every change; `id:` on every "
    "event; resume with the Last-Event-ID header or `lastEventId`; ends after the "
    "terminal event; 204 if the given id already is the terminal event."
)


def _last_event_id(header: str | None, query: str | None) -> int | None:
    raw = header if header not in (None, "") else query
    if raw is None or raw == "":
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise ApiError(
            400, f"Last-Event-ID {clip(raw, 40)!r} is not an event id (a whole number)"
        ) from None
    if value < 0:
        raise ApiError(400, f"Last-Event-ID {clip(raw, 40)!r} is negative")
    return value


def _finished_elsewhere(agent: Agent, project: Project, snapshot_id: str) -> ProgressEvent | None:
    """The stored terminal event of a snapshot that ended and is no longer the
    tracker's state (retention expired, or a newer snapshot ran), else None.

    Without this a stream for such a snapshot would wait for it forever.
    """
    if not SNAPSHOT_ID_RE.match(snapshot_id):
        raise ApiError(400, f"snapshotId {clip(snapshot_id, 100)!r} is not a snapshot id")
    record = agent.snapshot(project, snapshot_id)
    current = agent.tracker.current(project.id)
    if record.state is SnapshotState.RUNNING or (
        current is not None and current.snapshot_id == snapshot_id
    ):
        return None
    events = agent.db.snapshot_events(snapshot_id)
    return events[-1] if events and events[-1].terminal else None


def _etag(event: ProgressEvent) -> str:
    # An event id names one state of a project; idle after a finished state keeps
    # that id, hence the step too.
    return f'"{event.project_id}.{event.id}.{event.step.value}"'


@router.get(
    "/projects/{projectId}/progress",
    summary="Current snapshot progress (polling)",
    description="Answers 304 to an If-None-Match that matches the current state's ETag.",
    response_model=ProgressEventBody,
    responses={**responses(404), 304: {"description": "The state has not changed"}},
)
def poll_progress(
    projectId: str,
    agent: AgentDep,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    project = agent.project(projectId)
    current = agent.tracker.current(project.id)
    if current is None:
        current = idle_event(project.id, agent.clock.time(), agent.tracker.last_id(project.id))
    etag = _etag(current)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(current.json_text(), media_type="application/json", headers=headers)


@router.get(
    "/projects/{projectId}/progress/stream",
    summary="Snapshot progress as Server-Sent Events",
    description=_STREAM_DOC,
    response_class=Response,
    responses={**_SSE_RESPONSE, **responses(400, 404),
               204: {"description": "The given Last-Event-ID already is the terminal event"}},
)
def stream_progress(
    projectId: str,
    agent: AgentDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    lastEventId: Annotated[str | None, Query()] = None,
    snapshotId: Annotated[str | None, Query()] = None,
    on_sent: FrameHookDep = None,
) -> Any:
    project = agent.project(projectId)
    resume = _last_event_id(last_event_id, lastEventId)
    if snapshotId is not None:
        finished = _finished_elsewhere(agent, project, snapshotId)
        if finished is not None:  # ended and no longer in memory: answer from history
            if resume is not None and resume >= finished.id:
                return Response(status_code=204)
            sub = Subscription(1, project_id=project.id, snapshot_id=snapshotId)
            sub.push(finished)
            return EventStreamResponse(
                sub, heartbeat=agent.settings.sse_heartbeat, retry_ms=agent.settings.sse_retry_ms,
                on_sent=on_sent,
            )
    sub = agent.tracker.subscribe(project.id, last_event_id=resume, snapshot_id=snapshotId)
    if sub.already_finished:
        sub.close()
        return Response(status_code=204)
    return EventStreamResponse(
        sub, heartbeat=agent.settings.sse_heartbeat, retry_ms=agent.settings.sse_retry_ms,
        on_sent=on_sent,
    )


@router.get(
    "/progress/stream",
    summary="Progress of every project as one SSE stream",
    description="Ids are agent-wide; resume rules as for the per-project stream. Never ends.",
    response_class=Response,
    responses={**_SSE_RESPONSE, **responses(400)},
)
def stream_all_progress(
    agent: AgentDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    lastEventId: Annotated[str | None, Query()] = None,
    on_sent: FrameHookDep = None,
) -> Any:
    resume = _last_event_id(last_event_id, lastEventId)
    sub = agent.tracker.subscribe_all(last_event_id=resume)
    return EventStreamResponse(
        sub,
        heartbeat=agent.settings.sse_heartbeat,
        retry_ms=agent.settings.sse_retry_ms,
        agent_wide=True,
        on_sent=on_sent,
    )
