"""Routes for stored snapshots: browsing, files, tree, diff, batch."""

from __future__ import annotations

import asyncio
import posixpath
import threading
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field

from vidsync.api.errors import responses
from vidsync.api.metrics import count_abandoned
from vidsync.api.recent_diffs import RecentDiffs
from vidsync.api.routing import api_router
from vidsync.api.state import Agent, get_agent
from vidsync.errors import Gone, InvalidInput, NotFound, Unavailable
from vidsync.models import SnapshotRecord, SnapshotState
from vidsync.schemas import BatchBody, DiffPage, EventLog, SnapshotPage, Tree, TreeSearch
from vidsync.snapshot.browse import (
    Entry,
    open_entries,
    open_tree_entries,
    page,
    tree,
)
from vidsync.snapshot.diff import Diff, diff_entries, mark_skipped
from vidsync.snapshot.index import Summary
from vidsync.snapshot.search import search, text_may_match
from vidsync.storage.base import ManifestNotFound, StorageError, Store

T = TypeVar("T")

router = api_router()
AgentDep = Annotated[Agent, Depends(get_agent)]
# Far beyond any manifest, and small enough for every integer type on the way.
MAX_OFFSET = 2_000_000_000
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="entries to skip")]
Limit = Annotated[int, Query(ge=1, le=10_000, description="entries to return")]
# Reading a manifest: it may be gone from storage (410) or storage may fail (502).
MANIFEST_ERRORS = responses(404, 409, 410, 502)


def _storage_error(exc: StorageError) -> Exception:
    if isinstance(exc, ManifestNotFound):
        return Gone(str(exc))
    return Unavailable(str(exc))


def _paged(agent: Agent, record: SnapshotRecord, offset: int, limit: int) -> dict[str, Any]:
    try:
        header, entries = page(agent.store, agent.manifest_url(record), offset, limit)
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


@router.get(
    "/projects/{projectId}/snapshots/{snapshotId}",
    summary="One snapshot, entries paged",
    response_model=SnapshotPage,
    responses=MANIFEST_ERRORS,
)
def get_snapshot(
    projectId: str, snapshotId: str, agent: AgentDep, offset: Offset = 0, limit: Limit = 1000
) -> dict[str, Any]:
    record = agent.snapshot(agent.project(projectId), snapshotId)
    if record.state is not SnapshotState.COMPLETED:
        return {"snapshot": record.to_json(), "entries": [], "offset": offset, "limit": limit,
                "total": None, "nextOffset": None}
    return _paged(agent, record, offset, limit)


@router.get(
    "/projects/{projectId}/snapshots/{snapshotId}/events",
    summary="The progress log of one snapshot",
    response_model=EventLog,
    responses=responses(404),
)
def snapshot_events(projectId: str, snapshotId: str, agent: AgentDep) -> dict[str, Any]:
    record = agent.snapshot(agent.project(projectId), snapshotId)
    events = agent.db.snapshot_events(record.id)
    return {"snapshotId": record.id, "events": [e.to_json() for e in events]}


@router.get(
    "/projects/{projectId}/files",
    summary="Entries of the latest snapshot, paged",
    response_model=SnapshotPage,
    responses=MANIFEST_ERRORS,
)
def files(
    projectId: str, agent: AgentDep, offset: Offset = 0, limit: Limit = 1000
) -> dict[str, Any]:
    project = agent.project(projectId)
    return _paged(agent, agent.latest_completed(project), offset, limit)


@router.get(
    "/projects/{projectId}/files-tree",
    summary="Folder tree of a snapshot (default the latest)",
    response_model=Tree,
    responses={**MANIFEST_ERRORS, **responses(400)},
)
async def files_tree(
    request: Request,
    projectId: str,
    agent: AgentDep,
    path: Annotated[
        str, Query(max_length=4096, description="folder to start from; empty = top")
    ] = "",
    depth: Annotated[int | None, Query(ge=1, le=1000, description="levels to include")] = None,
    snapshotId: Annotated[str | None, Query(description="a snapshot; default the latest")] = None,
    sequences: Annotated[bool, Query(description="frame files as one sequence node")] = True,
) -> dict[str, Any] | Response:
    folder = _folder(path)

    def work(gone: Callable[[], bool]) -> dict[str, Any]:
        record = _chosen(agent, projectId, snapshotId)
        nodes = _read(agent, record, lambda entries: tree(entries, folder, depth, sequences),
                      gone, lambda store, url: open_tree_entries(store, url, folder, depth))
        if not nodes and folder:
            _check_folder(agent, record, folder, gone)
        return {"snapshot": record.to_json(), "path": folder, "tree": nodes}

    return await _while_connected(request, "files-tree", work)


def _folder(path: str) -> str:
    """``path`` as the manifest writes a folder: no "/" at the ends, "." and ".."
    resolved ("./sub/", "a/../sub" -> "sub")."""
    clean = path.strip("/")
    if not clean:
        return ""
    folder = posixpath.normpath(clean)
    if folder == ".":
        return ""
    if folder == ".." or folder.startswith("../"):
        raise InvalidInput(f"path {path!r} goes above the snapshot's top folder", "path")
    return folder


def _check_folder(agent: Agent, record: SnapshotRecord, folder: str,
                  gone: Callable[[], bool]) -> None:
    """A 404 unless the snapshot has ``folder``: an empty answer must not stand for a
    folder that is not there. Only empty answers pay for this second read."""

    def has(entries: Iterator[Entry]) -> bool:
        return any(e["path"] == folder and e.get("isDirectory") for e in entries)

    if not _read(agent, record, has, gone):
        raise NotFound(f"snapshot {record.id} has no folder {folder!r}", "path")


def _skipped_paths(agent: Agent, record: SnapshotRecord) -> set[str]:
    """The paths the snapshot skipped (the first 10,000 are stored)."""
    if not record.skipped_count:
        return set()
    return {path for _, path in agent.db.skipped_page(record.id, 0, 10_000)[1]}


def _chosen(agent: Agent, project_id: str, snapshot_id: str | None) -> SnapshotRecord:
    """The snapshot asked for, else the project's latest completed one."""
    project = agent.project(project_id)
    if snapshot_id:
        return agent.snapshot(project, snapshot_id)
    return agent.latest_completed(project)


def _read(agent: Agent, record: SnapshotRecord, use: Callable[[Iterator[Any]], T],
          gone: Callable[[], bool],
          opener: Callable[[Store, str], Iterator[Entry | Summary]] | None = None) -> T:
    """``use`` on the record's manifest entries, read as a stream (``ClientLeft``
    once ``gone()``): all of them, or what ``opener(store, url)`` gives."""
    url = agent.manifest_url(record)
    try:
        entries: Iterator[Entry | Summary]
        if opener is None:
            _, entries = open_entries(agent.store, url)
        else:
            entries = opener(agent.store, url)
        try:
            return use(_while(entries, gone))
        finally:
            entries.close()  # type: ignore[attr-defined]
    except StorageError as exc:
        raise _storage_error(exc) from None


class ClientLeft(Exception):
    """The client went away: the manifest read it asked for stops."""


def _while(entries: Iterator[T], gone: Callable[[], bool]) -> Iterator[T]:
    for i, entry in enumerate(entries):
        if not i & 1023 and gone():
            raise ClientLeft
        yield entry


async def _while_connected(
    request: Request, route: str, work: Callable[[Callable[[], bool]], T]
) -> T | Response:
    """``work(gone)`` in a worker thread, where ``gone()`` turns True when the client
    leaves. A read of a million-entry manifest takes seconds: the web filter asks
    again as the user types, and answers nobody waits for must not pile up."""
    left = threading.Event()

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        left.set()

    # A bare task, not a task group: the work's own errors (404, 410...) must reach
    # the error handlers as they are, not wrapped in an exception group.
    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        return await anyio.to_thread.run_sync(work, left.is_set)
    except ClientLeft:
        count_abandoned(request, route)
        return Response(status_code=499)  # nobody reads it
    finally:
        watcher.cancel()


MAX_QUERY = 200
SearchLimit = Annotated[int, Query(ge=1, le=5000, description="matches to return")]


@router.get(
    "/projects/{projectId}/files-search",
    summary="Entries of a snapshot whose name contains q, as a pruned tree",
    response_model=TreeSearch,
    responses={**MANIFEST_ERRORS, **responses(400)},
)
async def files_search(
    request: Request,
    projectId: str,
    agent: AgentDep,
    q: Annotated[str, Query(
        min_length=1, max_length=MAX_QUERY,
        description="text to find in names, case-insensitive; with a / it matches paths",
    )],
    path: Annotated[
        str, Query(max_length=4096, description="folder to search in; empty = all")
    ] = "",
    limit: SearchLimit = 500,
    snapshotId: Annotated[str | None, Query(description="a snapshot; default the latest")] = None,
    sequences: Annotated[bool, Query(description="frame files as one sequence node")] = True,
) -> dict[str, Any] | Response:
    query = q.strip()
    if not query:
        raise InvalidInput("q is only spaces: give the text to find", "q")

    folder = _folder(path)

    def work(gone: Callable[[], bool]) -> dict[str, Any]:
        record = _chosen(agent, projectId, snapshotId)
        # Folders outside ``path`` are skipped unread, and those whose text holds
        # no match are inflated but not parsed.
        found = _read(
            agent, record, lambda entries: search(entries, query, folder, limit, sequences),
            gone, lambda store, url: open_tree_entries(store, url, folder, None,
                                                       text_may_match(query)))
        if not found.total and folder:
            _check_folder(agent, record, folder, gone)
        return {
            "snapshot": record.to_json(),
            "path": folder,
            "query": query,
            "limit": limit,
            "tree": found.tree,
            "matches": found.matches,
            "total": found.total,
            "truncated": found.truncated,
        }

    return await _while_connected(request, "files-search", work)


@router.get(
    "/projects/{projectId}/snapshots/{a}/diff/{b}",
    summary="What changed from snapshot a to snapshot b",
    response_model=DiffPage,
    responses=MANIFEST_ERRORS,
)
async def diff(
    request: Request,
    projectId: str, a: str, b: str, agent: AgentDep, offset: Offset = 0, limit: Limit = 1000,
    moves: Annotated[bool, Query(description="report moves and renames as one change")] = True,
    sequences: Annotated[bool, Query(description="fold frame changes per sequence")] = True,
) -> dict[str, Any] | Response:
    def work(gone: Callable[[], bool]) -> dict[str, Any]:
        project = agent.project(projectId)
        old, new = agent.snapshot(project, a), agent.snapshot(project, b)
        def compute() -> Diff:
            found = _read(agent, old, lambda old_entries: _read(
                agent, new, lambda new_entries: diff_entries(
                    old_entries, new_entries, moves=moves, sequences=sequences), gone), gone)
            mark_skipped(found.changes, _skipped_paths(agent, old), _skipped_paths(agent, new))
            return found

        # Each page of one diff is asked for on its own: compute it once (only
        # completed snapshots have manifests, and they never change).
        recent: RecentDiffs = request.app.state.recent_diffs
        result = recent.get((old.id, new.id, moves, sequences), compute)
        total = result.total
        return {
            "projectId": project.id,
            "from": old.id,
            "to": new.id,
            "counts": result.counts,
            "bytes": result.bytes,
            "changes": result.page(offset, limit),
            "offset": offset,
            "limit": limit,
            "total": total,
            "nextOffset": offset + limit if offset + limit < total else None,
        }

    return await _while_connected(request, "diff", work)


class BatchRequest(BaseModel):
    projectIds: list[Annotated[str, Field(max_length=200)]] = Field(
        min_length=1, max_length=1000
    )


@router.post(
    "/snapshots/batch",
    status_code=202,
    summary="Snapshot several projects, a few at a time",
    response_model=BatchBody,
    responses=responses(413),
)
def batch(body: BatchRequest, agent: AgentDep) -> dict[str, Any]:
    result = agent.batch_snapshots(body.projectIds)
    return {
        "started": result.started,
        "queued": result.queued,
        "errors": result.errors,
        "limit": agent.batch.limit,
    }
