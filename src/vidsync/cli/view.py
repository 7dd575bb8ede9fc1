"""The terminal progress view: a rich bar fed by progress events."""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any, TextIO

from vidsync.models import TOTAL_STEPS, ProgressEvent, Step, human_size
from vidsync.protocol import STATE_LABELS, step_label, step_unit

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x1b``): a file
    or project name must not move the cursor, change colours or split a line."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def shown(text: str) -> str:
    """``printable`` text for rich, which would read ``[red]`` in a name as markup."""
    from rich.markup import escape

    return escape(printable(text))


def _rate(event: ProgressEvent) -> str:
    if event.rate is None:
        return ""
    unit = step_unit(event.step_number)
    if unit == "bytes":
        return f"{human_size(int(event.rate))}/s"
    return f"{event.rate:,.0f} {unit or 'units'}/s"


def _eta(event: ProgressEvent) -> str:
    if event.terminal:
        return ""
    if event.eta_seconds is None:
        return "ETA estimating"
    seconds = int(event.eta_seconds)
    return f"ETA {seconds // 60}:{seconds % 60:02d}"


def describe(event: ProgressEvent) -> dict[str, str]:
    files = f"{event.file_count:,} files" if event.file_count is not None else ""
    if event.step_number == 3 and event.step_done is not None and not event.terminal:
        files = f"{int(event.step_done):,} files"
    size = human_size(event.total_bytes) if event.total_bytes is not None else ""
    if event.terminal:
        step = STATE_LABELS[event.step.value]
    elif event.queued:
        step = STATE_LABELS["queued"]
    else:
        step = f"[{event.step_number}/{TOTAL_STEPS}] {step_label(event.step_number)}"
    return {
        "step": step,
        "files": files,
        "size": size,
        "rate": _rate(event),
        "eta": _eta(event),
    }


class ProgressView:
    """Draws events as one live bar; ``connection`` shows the client's link state."""

    def __init__(self, console: Console | None = None) -> None:
        # Imported here: `--json` and the rest of the CLI never pay for rich.
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        # Off a terminal (a log, a pipe) rich would assume 80 columns and cut the bar.
        width = None if sys.stderr.isatty() else 160
        self.console = console or Console(stderr=True, width=width)
        self._progress = Progress(
            TextColumn("{task.fields[step]:<28}"),
            BarColumn(bar_width=30),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[files]:>14}"),
            TextColumn("{task.fields[size]:>9}"),
            TextColumn("{task.fields[rate]:>14}"),
            TextColumn("{task.fields[eta]:>14}"),
            TextColumn("[dim]{task.fields[connection]}"),
            console=self.console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._ended = False
        self.connection = ""

    def __enter__(self) -> ProgressView:
        self._progress.start()
        self._task = self._progress.add_task(
            "snapshot", total=100, step="starting", files="", size="", rate="", eta="",
            connection="",
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def set_connection(self, state: str) -> None:
        if self._ended:  # the stream closing after the end is no news
            return
        self.connection = state
        if self._task is not None:
            self._progress.update(self._task, connection=state)

    def update(self, event: ProgressEvent) -> None:
        if self._task is None:
            return
        fields: dict[str, Any] = describe(event)
        if event.terminal:
            self._ended = True
            fields["connection"] = ""
        self._progress.update(self._task, completed=event.progress, **fields)
        if event.step is Step.FAILED:
            self._progress.console.print(
                f"[red]Snapshot failed:[/red] {shown(event.error or '')}", soft_wrap=True
            )
        elif event.has_warnings:
            self._progress.console.print(
                f"[yellow]Snapshot {skipped_summary(event)}, stored at[/yellow] "
                f"{shown(event.snapshot_url or '')}",
                soft_wrap=True,
            )
        elif event.step is Step.COMPLETED:
            self._progress.console.print(
                f"[green]Snapshot stored at[/green] {shown(event.snapshot_url or '')}",
                soft_wrap=True,
            )


class JsonLines:
    """``--json``: one event per line on stdout."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def __enter__(self) -> JsonLines:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, event: ProgressEvent) -> None:
        self.out.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
        self.out.flush()

    def set_connection(self, state: str) -> None:
        pass


EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_WARNINGS = 3  # completed, but some entries were skipped
EXIT_CANCELLED = 130  # cancelled, or stopped with Ctrl-C


def skipped_summary(event: ProgressEvent) -> str:
    """'completed with 3 skipped (1 vanished, 2 special)'."""
    kinds = ", ".join(f"{n} {kind}" for kind, n in (event.skipped or {}).items() if n)
    return f"completed with {event.skipped_count} skipped" + (f" ({kinds})" if kinds else "")


def exit_code(event: ProgressEvent | None) -> int:
    """0 on completed, 3 on completed with skipped entries, 1 on failed, 130 on
    cancelled or when it never ended."""
    if event is None or not event.terminal:
        return EXIT_CANCELLED
    if event.step is Step.COMPLETED:
        return EXIT_WARNINGS if event.has_warnings else EXIT_OK
    return EXIT_FAILED if event.step is Step.FAILED else EXIT_CANCELLED


def finish(event: ProgressEvent | None, retry: str | None = None) -> int:
    """Say how the snapshot ended on stderr (unless it simply completed); its exit code.

    ``retry`` is the command that takes the snapshot again, shown after a failure.
    """
    code = exit_code(event)
    if event is not None and event.has_warnings:
        print(f"vidsync: warning: snapshot {skipped_summary(event)}; the list: GET "
              f"/api/v1/projects/{event.project_id}/snapshots/{event.snapshot_id}/skipped",
              file=sys.stderr)
    elif event is not None and event.step is Step.FAILED:
        print(f"vidsync: snapshot failed: {printable(event.error or '')}", file=sys.stderr)
        if retry:
            print(f"vidsync: to retry: {retry}", file=sys.stderr)
    elif code == EXIT_CANCELLED:
        print("vidsync: snapshot cancelled" if event is not None and event.terminal
              else "vidsync: stopped watching", file=sys.stderr)
    return code
