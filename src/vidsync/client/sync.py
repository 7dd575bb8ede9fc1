"""``AgentClient``: the blocking face of :class:`AsyncAgentClient`.

No second copy of the logic: each method runs the async one on an event loop
that the client keeps in a background thread (an anyio blocking portal).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from vidsync.client.agent import AsyncAgentClient
from vidsync.client.progress import ProgressClient
from vidsync.models import ProgressEvent

P = ParamSpec("P")
R = TypeVar("R")


def _blocking(
    method: Callable[Concatenate[AsyncAgentClient, P], Awaitable[R]],
) -> Callable[Concatenate[AgentClient, P], R]:
    def call(self: AgentClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._portal.call(functools.partial(method, self.aio, *args, **kwargs))

    call.__name__ = call.__qualname__ = method.__name__
    call.__doc__ = method.__doc__
    return call


class AgentClient:
    """Blocking client of a vidsync agent, with the methods of :class:`AsyncAgentClient`.

    ``with AgentClient("http://127.0.0.1:5001") as agent: agent.list_projects()``.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        stack = ExitStack()
        self._portal: BlockingPortal = stack.enter_context(start_blocking_portal())
        try:
            # Built on the portal's loop, where every call will run.
            self.aio: AsyncAgentClient = self._portal.call(
                functools.partial(
                    AsyncAgentClient, base_url, api_key=api_key, timeout=timeout,
                    transport=transport,
                )
            )
        except BaseException:
            stack.close()
            raise
        self._exit: ExitStack | None = stack
        self.base_url = self.aio.base_url

    def close(self) -> None:
        """Close the connections and the background loop; closing twice is fine."""
        if self._exit is None:
            return
        try:
            self._portal.call(self.aio.aclose)
        finally:
            self._exit.close()
            self._exit = None

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    health = _blocking(AsyncAgentClient.health)
    config = _blocking(AsyncAgentClient.config)
    list_projects = _blocking(AsyncAgentClient.list_projects)
    get_project = _blocking(AsyncAgentClient.get_project)
    create_project = _blocking(AsyncAgentClient.create_project)
    create_project_with_snapshot = _blocking(AsyncAgentClient.create_project_with_snapshot)
    delete_project = _blocking(AsyncAgentClient.delete_project)
    start_snapshot = _blocking(AsyncAgentClient.start_snapshot)
    cancel_snapshot = _blocking(AsyncAgentClient.cancel_snapshot)
    list_snapshots = _blocking(AsyncAgentClient.list_snapshots)
    get_snapshot = _blocking(AsyncAgentClient.get_snapshot)
    skipped = _blocking(AsyncAgentClient.skipped)
    snapshot_events = _blocking(AsyncAgentClient.snapshot_events)
    diff = _blocking(AsyncAgentClient.diff)
    files = _blocking(AsyncAgentClient.files)
    files_tree = _blocking(AsyncAgentClient.files_tree)
    search_files = _blocking(AsyncAgentClient.search_files)
    batch = _blocking(AsyncAgentClient.batch)
    progress = _blocking(AsyncAgentClient.progress)
    request = _blocking(AsyncAgentClient.request)

    def watch(self, project_id: str, **options: Any) -> Iterator[ProgressEvent]:
        """The progress events of one project until the terminal one (see ProgressClient).

        Callbacks given in ``options`` (``on_event``, ``on_state``) run in the
        client's background thread.
        """
        client = self._portal.call(
            functools.partial(ProgressClient.create, self.aio, project_id, **options)
        )
        events = client.events()
        try:
            while True:
                try:
                    yield self._portal.call(events.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            self._portal.call(events.aclose)

    def wait(self, project_id: str, **options: Any) -> ProgressEvent | None:
        """Follow one project's progress to the end; the last event (callbacks only)."""
        last = None
        for event in self.watch(project_id, **options):
            last = event
        return last

