"""``vidsync watch`` and ``vidsync snapshot --agent``: progress of an agent's snapshot.

Both draw the bar of the in-process ``vidsync snapshot`` (or print JSON lines)
from a :class:`~vidsync.client.ProgressClient`, with the connection state.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
from pathlib import Path

import anyio
from anyio.abc import TaskStatus

from vidsync.cli.view import EXIT_CANCELLED, EXIT_USAGE, JsonLines, ProgressView, finish, printable
from vidsync.client import (
    AgentError,
    AsyncAgentClient,
    ConflictError,
    ConnectionStatus,
    NotFoundError,
    ProgressClient,
)
from vidsync.client.types import ProjectInfo
from vidsync.models import ProgressEvent


def _with_folder(projects: list[ProjectInfo], path: Path) -> ProjectInfo | None:
    """The project of this folder, through symlinks (as the agent compares them)."""
    real = os.path.realpath(path.expanduser())
    return next((p for p in projects if os.path.realpath(p["localPath"]) == real), None)


async def resolve_project(agent: AsyncAgentClient, text: str) -> ProjectInfo:
    """A project by id, by name, or by its folder. Text with a "/" is a folder first:
    a project may be named like another one's folder, every command reads it so."""
    if "/" not in text:
        try:
            return await agent.get_project(text)
        except NotFoundError:
            pass
    projects = await agent.list_projects()
    path = Path(text)
    if "/" in text and (found := _with_folder(projects, path)) is not None:
        return found
    named = [p for p in projects if p["name"] == text]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        ids = ", ".join(p["projectId"] for p in named)
        raise AgentError(None, f"several projects are named {text!r}: use an id ({ids})")
    if path.expanduser().exists() and (found := _with_folder(projects, path)) is not None:
        return found
    raise NotFoundError(404, f"no project {text!r} (give its id, its name or its folder)")


async def watch(url: str, project: str, *, json_lines: bool, wait_next: bool = False) -> int:
    """``vidsync watch PROJECT``: follow its running snapshot to the end; when none
    runs, show how the last one ended, or (``--next``) wait for the next one."""
    async with AsyncAgentClient(url) as agent:
        try:
            info = await resolve_project(agent, project)
            project_id, snapshot_id = info["projectId"], info["runningSnapshotId"]
            if snapshot_id is None:
                name = printable(info["name"])
                if wait_next:
                    snapshot_id = await _next_snapshot(
                        agent, project_id, _latest_id(info),
                        f"vidsync: waiting for the next snapshot of {name} (Ctrl-C to stop)")
                    if snapshot_id is None:
                        print("vidsync: stopped watching", file=sys.stderr)
                        return EXIT_CANCELLED
                elif info["latestSnapshot"]:
                    print(f"vidsync: no snapshot of {name} is running; the last one "
                          "(--next waits for the next one):", file=sys.stderr)
        except AgentError as exc:
            return report_error(exc)
        return await _follow(agent, project_id, snapshot_id, json_lines, cancel_on_ctrl_c=False,
                             retry=retry_command(url, project_id))


def _latest_id(info: ProjectInfo) -> str | None:
    latest = info["latestSnapshot"]
    return latest["snapshotId"] if latest else None


async def _next_snapshot(
    agent: AsyncAgentClient, project_id: str, last: str | None, announce: str
) -> str | None:
    """Say ``announce`` (once Ctrl-C is caught), then wait for a snapshot other than
    ``last`` to start: its id; None after Ctrl-C.

    The project's stream cannot say "the next one" (resuming after a terminal event
    is a 204), so this asks twice a second; one that starts and ends in between is
    still found, as the project's latest snapshot."""
    found: str | None = None
    async with anyio.create_task_group() as tg:

        async def stop_on_ctrl_c(*, task_status: TaskStatus[None]) -> None:
            with anyio.open_signal_receiver(signal.SIGINT) as signals:
                task_status.started()
                async for _ in signals:
                    tg.cancel_scope.cancel()
                    return

        await tg.start(stop_on_ctrl_c)
        print(announce, file=sys.stderr, flush=True)
        while found is None:
            info = await agent.get_project(project_id)
            latest = _latest_id(info)
            found = info["runningSnapshotId"] or (latest if latest != last else None)
            if found is None:
                await anyio.sleep(0.5)
        tg.cancel_scope.cancel()
    return found


async def snapshot(url: str, target: str, *, json_lines: bool) -> int:
    """``vidsync snapshot --agent URL PATH_OR_PROJECT``: start one on the agent, follow it."""
    async with AsyncAgentClient(url) as agent:
        try:
            project_id, snapshot_id = await _start(agent, target)
        except AgentError as exc:
            return report_error(exc)
        return await _follow(agent, project_id, snapshot_id, json_lines, cancel_on_ctrl_c=True,
                             retry=retry_command(url, project_id))


def retry_command(url: str, project_id: str) -> str:
    """The command that starts a new snapshot of the project: shown after a failure."""
    return f"vidsync snapshot --agent {shlex.quote(url)} {shlex.quote(project_id)}"


async def _start(agent: AsyncAgentClient, target: str) -> tuple[str, str]:
    path = Path(target).expanduser()
    if path.is_dir():
        known = _with_folder(await agent.list_projects(), path)
        if known is None:
            started = await agent.create_project_with_snapshot(os.path.normpath(path.absolute()))
            return started["projectId"], started["snapshotId"]
        project_id = known["projectId"]
    else:
        project_id = (await resolve_project(agent, target))["projectId"]
    try:
        started = await agent.start_snapshot(project_id)
    except ConflictError as exc:
        running = exc.body.get("snapshotId")
        if not isinstance(running, str):
            raise
        print(f"vidsync: a snapshot is already running ({running}); following it",
              file=sys.stderr)
        return project_id, running
    return project_id, started["snapshotId"]


async def _follow(
    agent: AsyncAgentClient,
    project_id: str,
    snapshot_id: str | None,
    json_lines: bool,
    *,
    cancel_on_ctrl_c: bool,
    retry: str | None = None,
) -> int:
    view = JsonLines() if json_lines else ProgressView()

    def on_state(status: ConnectionStatus) -> None:
        view.set_connection(status.describe())

    try:
        client = await ProgressClient.create(
            agent, project_id, snapshot_id=snapshot_id, on_event=view.update, on_state=on_state
        )
    except AgentError as exc:
        return report_error(exc)
    last: ProgressEvent | None = None
    error: AgentError | None = None
    with view:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_on_ctrl_c, agent, client, project_id, cancel_on_ctrl_c)
            try:
                last = await client.run()
            except AgentError as exc:  # kept out of the task group's ExceptionGroup
                error = exc
            finally:
                tg.cancel_scope.cancel()
    if error is not None:
        return report_error(error)
    return finish(last, retry)


async def _on_ctrl_c(
    agent: AsyncAgentClient, client: ProgressClient, project_id: str, cancel: bool
) -> None:
    """First Ctrl-C: cancel the snapshot (``snapshot``) or stop watching (``watch``).
    A second one stops watching at once."""
    with anyio.open_signal_receiver(signal.SIGINT) as signals:
        asked = False
        async for _ in signals:
            if cancel and not asked:
                asked = True
                print("vidsync: cancelling the snapshot (Ctrl-C again to stop watching)",
                      file=sys.stderr)
                try:
                    await agent.cancel_snapshot(project_id)
                except AgentError as exc:
                    print(f"vidsync: {exc.detail}", file=sys.stderr)
                continue
            client.stop()
            return


def report_error(exc: AgentError) -> int:
    """An agent error on stderr; the usage exit code."""
    print(f"vidsync: {printable(exc.detail)}", file=sys.stderr)
    return EXIT_USAGE
