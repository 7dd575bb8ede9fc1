"""``AsyncAgentClient``: one typed method per route of the agent's HTTP API."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, cast
from urllib.parse import quote

import httpx

from vidsync.client.errors import AgentError, AgentUnreachable, error_from_response
from vidsync.client.types import (
    BatchResult,
    ClientConfig,
    DiffPage,
    ProjectInfo,
    SkippedPage,
    SnapshotInfo,
    SnapshotPage,
    Started,
    TreeSearch,
)
from vidsync.models import ProgressEvent
from vidsync.settings import default_agent_url

API = "/api/v1"


def _pid(project_id: str) -> str:
    # Ids are path segments: quote them so a hostile id cannot walk the URL.
    return quote(project_id, safe="")


class AsyncAgentClient:
    """Async client of a vidsync agent.

    ``async with AsyncAgentClient("http://127.0.0.1:5001") as agent: ...``.
    Every error answer raises an :class:`~vidsync.client.errors.AgentError`
    subclass carrying ``status`` and ``detail``; no answer at all raises
    :class:`~vidsync.client.errors.AgentUnreachable`.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = (base_url or default_agent_url()).rstrip("/")
        api_key = api_key if api_key is not None else os.environ.get("VIDSYNC_API_KEY")
        headers = {"X-API-Key": api_key} if api_key else {}
        self._timeout = timeout
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )

    async def __aenter__(self) -> AsyncAgentClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
    ) -> Any:
        """One call; the decoded JSON answer (``None`` for 204)."""
        try:
            response = await self.http.request(method, path, params=params, json=json)
        except httpx.TransportError as exc:
            raise AgentUnreachable(self.base_url, exc) from exc
        if response.status_code >= 400:
            error = error_from_response(response)
            if response.status_code == 404 and not error.body:
                # The agent's 404s are JSON: this is some other server.
                raise AgentError(404, f"{self.base_url} is not a vidsync agent "
                                      f"(404 for {method} {path})")
            raise error
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise AgentError(response.status_code, f"{self.base_url} is not a vidsync agent "
                             f"(its answer to {method} {path} is not JSON)") from None

    # -- agent -----------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """``GET /api/v1/health``: status, version, storage kind, progress bus."""
        return cast(dict[str, Any], await self.request("GET", f"{API}/health"))

    async def config(self) -> ClientConfig:
        """``GET /api/v1/config``: poll interval, heartbeat and retry hint."""
        return ClientConfig.from_json(await self.request("GET", f"{API}/config"))

    # -- projects --------------------------------------------------------------

    async def list_projects(self) -> list[ProjectInfo]:
        data = await self.request("GET", f"{API}/projects")
        return cast(list[ProjectInfo], data["projects"])

    async def get_project(self, project_id: str) -> ProjectInfo:
        return cast(ProjectInfo, await self.request("GET", f"{API}/projects/{_pid(project_id)}"))

    async def create_project(
        self, local_path: str | os.PathLike[str], *, name: str | None = None, source: str = "local"
    ) -> ProjectInfo:
        """Register a folder (400 if it is not a readable absolute folder, 409 if taken)."""
        body = {"localPath": os.fspath(local_path), "name": name, "source": source}
        return cast(ProjectInfo, await self.request("POST", f"{API}/projects", json=body))

    async def create_project_with_snapshot(
        self, local_path: str | os.PathLike[str], *, name: str | None = None, source: str = "local"
    ) -> Started:
        """Register a folder and start its first snapshot; returns at once."""
        body = {"localPath": os.fspath(local_path), "name": name, "source": source}
        return cast(Started, await self.request("POST", f"{API}/projects/with-snapshot", json=body))

    async def delete_project(self, project_id: str) -> None:
        await self.request("DELETE", f"{API}/projects/{_pid(project_id)}")

    # -- snapshots -------------------------------------------------------------

    async def start_snapshot(self, project_id: str) -> Started:
        """Start a snapshot (ConflictError with ``body["snapshotId"]`` if one runs)."""
        path = f"{API}/projects/{_pid(project_id)}/snapshot"
        return cast(Started, await self.request("POST", path))

    async def cancel_snapshot(self, project_id: str) -> str:
        """Cancel the running snapshot; its id (ConflictError if none runs)."""
        data = await self.request("DELETE", f"{API}/projects/{_pid(project_id)}/snapshot")
        return str(data["snapshotId"])

    async def list_snapshots(
        self, project_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[SnapshotInfo]:
        """History, newest first: ``limit`` records (1-1,000) after the newest ``offset``."""
        path = f"{API}/projects/{_pid(project_id)}/snapshots"
        data = await self.request("GET", path, params={"limit": limit, "offset": offset})
        return cast(list[SnapshotInfo], data["snapshots"])

    async def get_snapshot(
        self, project_id: str, snapshot_id: str, *, offset: int = 0, limit: int = 1000
    ) -> SnapshotPage:
        """One snapshot's record and a page of its manifest entries."""
        path = f"{API}/projects/{_pid(project_id)}/snapshots/{_pid(snapshot_id)}"
        data = await self.request("GET", path, params={"offset": offset, "limit": limit})
        return cast(SnapshotPage, data)

    async def skipped(
        self, project_id: str, snapshot_id: str, *, offset: int = 0, limit: int = 1000
    ) -> SkippedPage:
        """A page of the entries a snapshot left out (vanished, unreadable, special)."""
        path = f"{API}/projects/{_pid(project_id)}/snapshots/{_pid(snapshot_id)}/skipped"
        data = await self.request("GET", path, params={"offset": offset, "limit": limit})
        return cast(SkippedPage, data)

    async def snapshot_events(self, project_id: str, snapshot_id: str) -> list[ProgressEvent]:
        """The stored progress log of one snapshot."""
        path = f"{API}/projects/{_pid(project_id)}/snapshots/{_pid(snapshot_id)}/events"
        data = await self.request("GET", path)
        return [ProgressEvent.from_json(e) for e in data["events"]]

    async def diff(
        self, project_id: str, a: str, b: str, *, offset: int = 0, limit: int = 1000
    ) -> DiffPage:
        """One page of the changes from snapshot ``a`` to ``b``, with counts and byte deltas."""
        path = f"{API}/projects/{_pid(project_id)}/snapshots/{_pid(a)}/diff/{_pid(b)}"
        data = await self.request("GET", path, params={"offset": offset, "limit": limit})
        return cast(DiffPage, data)

    async def iter_diff(
        self, project_id: str, a: str, b: str, *, page_size: int = 1000
    ) -> AsyncIterator[DiffPage]:
        """Every page of a diff, following ``nextOffset``."""
        offset: int | None = 0
        while offset is not None:
            page = await self.diff(project_id, a, b, offset=offset, limit=page_size)
            yield page
            offset = page["nextOffset"]

    async def files(self, project_id: str, *, offset: int = 0, limit: int = 1000) -> SnapshotPage:
        """A page of the entries of the latest completed snapshot."""
        path = f"{API}/projects/{_pid(project_id)}/files"
        data = await self.request("GET", path, params={"offset": offset, "limit": limit})
        return cast(SnapshotPage, data)

    async def files_tree(
        self, project_id: str, *, path: str = "", depth: int | None = None
    ) -> dict[str, Any]:
        """The folder tree of the latest completed snapshot."""
        params: dict[str, str | int] = {"path": path}
        if depth is not None:
            params["depth"] = depth
        url = f"{API}/projects/{_pid(project_id)}/files-tree"
        return cast(dict[str, Any], await self.request("GET", url, params=params))

    async def search_files(
        self, project_id: str, query: str, *, path: str = "", limit: int = 500,
        snapshot_id: str | None = None, sequences: bool = True,
    ) -> TreeSearch:
        """Entries whose name contains ``query`` (case-insensitive; with a "/" it matches
        paths) in the latest completed snapshot or ``snapshot_id``, as a pruned tree.
        At most ``limit`` matches; ``truncated`` says when there were more (``total``)."""
        params: dict[str, str | int] = {
            "q": query, "path": path, "limit": limit, "sequences": str(sequences).lower(),
        }
        if snapshot_id is not None:
            params["snapshotId"] = snapshot_id
        url = f"{API}/projects/{_pid(project_id)}/files-search"
        return cast(TreeSearch, await self.request("GET", url, params=params))

    async def batch(self, project_ids: list[str]) -> BatchResult:
        """Snapshots of several projects; unknown ids come back in ``errors``."""
        body = {"projectIds": project_ids}
        data = await self.request("POST", f"{API}/snapshots/batch", json=body)
        return cast(BatchResult, data)

    # -- progress --------------------------------------------------------------

    async def progress(self, project_id: str) -> ProgressEvent:
        """The current state (polling); step ``idle`` when nothing ran."""
        data = await self.request("GET", f"{API}/projects/{_pid(project_id)}/progress")
        return ProgressEvent.from_json(data)

    @asynccontextmanager
    async def open_stream(
        self,
        project_id: str,
        *,
        last_event_id: int | None = None,
        snapshot_id: str | None = None,
        connect_timeout: float = 10.0,
    ) -> AsyncIterator[httpx.Response]:
        """The raw SSE response of one project (status 200 or 204; errors raise).

        Reading has no timeout: a quiet stream is normal, and the
        :class:`~vidsync.client.progress.ProgressClient` watches the heartbeat.
        """
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        params = {"snapshotId": snapshot_id} if snapshot_id else None
        timeout = httpx.Timeout(connect_timeout, read=None)
        path = f"{API}/projects/{_pid(project_id)}/progress/stream"
        try:
            async with self.http.stream(
                "GET", path, headers=headers, params=params, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_from_response(response)
                yield response
        except httpx.TransportError as exc:
            raise AgentUnreachable(self.base_url, exc) from exc
