"""``vidsync projects``, ``vidsync history PROJECT``, ``vidsync diff PROJECT A B``,
``vidsync find PROJECT TEXT``."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from vidsync.cli.remote import report_error, resolve_project
from vidsync.cli.view import printable, shown
from vidsync.client import AgentError, AsyncAgentClient
from vidsync.client.types import Change
from vidsync.models import human_size

_STATE_STYLE = {"completed": "green", "failed": "red", "cancelled": "yellow", "running": "blue"}
_MARKS = {"added": "+", "removed": "-", "modified": "M", "typeChanged": "T", "moved": "R"}


def _console() -> Console:
    # Piped output keeps whole rows (ids, paths) instead of wrapping at 80 columns.
    return Console() if sys.stdout.isatty() else Console(width=240)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _date(iso: str | None) -> str:
    # '2026-11-29T02:56:22.925Z' -> '2026-11-29 02:56:22' (UTC, as the agent stores it)
    return iso[:19].replace("T", " ") if iso else ""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.1f} s"
    return f"{whole // 60}:{whole % 60:02d}"


def _state(state: str | None) -> str:
    if not state:
        return ""
    style = _STATE_STYLE.get(state)
    return f"[{style}]{state}[/{style}]" if style else state


async def projects(url: str, *, as_json: bool) -> int:
    """The agent's projects with their latest snapshot."""
    async with AsyncAgentClient(url) as agent:
        try:
            items = await agent.list_projects()
        except AgentError as exc:
            return report_error(exc)
    if as_json:
        _print_json(items)
        return 0
    table = Table("id", "name", "folder", "latest", "date", "files", "size")
    for p in items:
        latest: dict[str, Any] = dict(p["latestSnapshot"] or {})
        table.add_row(
            shown(p["projectId"]),
            shown(p["name"]),
            shown(p["localPath"]),
            _state(latest.get("state")),
            _date(latest.get("startedAt")),
            f"{latest['fileCount']:,}" if latest.get("fileCount") is not None else "",
            latest.get("totalSize") or "",
        )
    _console().print(table)
    return 0


async def history(url: str, project: str, *, limit: int, as_json: bool) -> int:
    """One project's snapshots, newest first."""
    async with AsyncAgentClient(url) as agent:
        try:
            info = await resolve_project(agent, project)
            records = await agent.list_snapshots(info["projectId"], limit=limit)
        except AgentError as exc:
            return report_error(exc)
    if as_json:
        _print_json(records)
        return 0
    table = Table("date (UTC)", "state", "files", "size", "duration", "snapshot",
                  title=shown(f"{info['name']} ({info['projectId']})"))
    for r in records:
        state = _state(r["state"])
        if r["error"]:
            state += f": {shown(r['error'])}"
        table.add_row(
            _date(r["startedAt"]),
            state,
            f"{r['fileCount']:,}" if r["fileCount"] is not None else "",
            r["totalSize"] or "",
            _duration(r["durationSeconds"]),
            r["snapshotId"],
        )
    _console().print(table)
    return 0


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _sequence_line(change: Change) -> str:
    action, n = change.get("action", ""), int(change.get("frameCount", 0))
    frames = change.get("frames", "")
    mark = _MARKS.get(action, "?")
    if action == "added":
        what = f"+{_plural(n, 'frame')} {frames}"
    elif action == "removed":
        what = f"-{_plural(n, 'frame')} {frames}"
    elif action == "modified":
        what = f"{_plural(n, 'frame')} modified {frames}"
    else:
        return (f"{mark}    {change.get('from')} {change.get('fromFrames')} -> "
                f"{change['path']} {frames}  ({_plural(n, 'frame')})")
    return f"{mark}    {change['path']}  {what}"


_SKIPPED_IN = {"to": "  (skipped by the newer snapshot: may still be there)",
               "from": "  (skipped by the older snapshot: may have been there)"}


def _line(change: Change) -> str:
    return _change_line(change) + _SKIPPED_IN.get(str(change.get("skippedIn")), "")


def _change_line(change: Change) -> str:
    if change["change"] == "sequence":
        return _sequence_line(change)
    entry = change["after"] or change["before"]
    slash = "/" if entry is not None and entry["isDirectory"] else ""
    mark = _MARKS.get(change["change"], "?")
    if change["change"] == "moved":
        line = f"{mark}    {change.get('from')}{slash} -> {change['path']}{slash}"
        if change.get("fileCount") is not None:
            line += f"  ({_plural(int(change['fileCount']), 'file')}, " \
                    f"{human_size(int(change.get('totalBytes', 0)))})"
        return line
    return f"{mark}    {change['path']}{slash}"


def _signed(n: int) -> str:
    return ("-" if n < 0 else "+") + human_size(abs(n))


async def diff(url: str, project: str, a: str, b: str, *, as_json: bool) -> int:
    """What changed from snapshot ``a`` to ``b``, like ``restic diff``."""
    async with AsyncAgentClient(url) as agent:
        try:
            project_id = (await resolve_project(agent, project))["projectId"]
            changes: list[Change] = []
            first = None
            async for page in agent.iter_diff(project_id, a, b):
                first = first or page
                if as_json:
                    changes.extend(page["changes"])
                else:
                    for change in page["changes"]:
                        sys.stdout.write(printable(_line(change)) + "\n")
        except AgentError as exc:
            return report_error(exc)
    assert first is not None  # iter_diff yields at least one page
    if as_json:
        _print_json({**first, "changes": changes, "offset": 0, "limit": len(changes),
                     "nextOffset": None})
        return 0
    counts, size = first["counts"], first["bytes"]
    sys.stdout.write(
        f"\nFiles: {counts['added']} added, {counts['removed']} removed, "
        f"{counts['modified']} modified, {counts['typeChanged']} changed type, "
        f"{counts.get('moved', 0)} moved\n"
        f"Bytes: {_signed(size['added'])} added, {_signed(-size['removed'])} removed, "
        f"{_signed(size['modifiedDelta'])} in modified files, {_signed(size['totalDelta'])} total\n"
    )
    return 0




def _found_lines(nodes: list[dict[str, Any]]) -> list[str]:
    """One line per matching node of a search answer, depth first."""
    lines: list[str] = []
    for node in nodes:
        if node.get("match"):
            if node.get("type") == "sequence":
                lines.append(f"{node['path']}  {node['frames']} "
                             f"({_plural(int(node['fileCount']), 'frame')})")
            else:
                lines.append(node["path"] + ("/" if node["isDirectory"] else ""))
        if node.get("type") != "sequence":
            lines.extend(_found_lines(node.get("children") or []))
    return lines


async def find(url: str, project: str, text: str, *, limit: int, snapshot: str | None,
               as_json: bool) -> int:
    """Paths in a snapshot whose name contains ``text``; exit 1 when none does (as grep)."""
    async with AsyncAgentClient(url) as agent:
        try:
            project_id = (await resolve_project(agent, project))["projectId"]
            found = await agent.search_files(project_id, text, limit=limit,
                                             snapshot_id=snapshot)
        except AgentError as exc:
            return report_error(exc)
    if as_json:
        _print_json(found)
    else:
        for line in _found_lines(found["tree"]):
            sys.stdout.write(printable(line) + "\n")
        total = found["total"]
        matches = f"{total:,} {'match' if total == 1 else 'matches'}"
        if found["truncated"]:
            matches = f"first {found['matches']:,} of {matches}: refine the search"
        sys.stderr.write(matches + "\n")
    return 0 if found["total"] else 1
