"""``vidsync snapshot PATH``: the pipeline in this process, drawn as it runs.

The same use-cases as the agent's routes (the service layer), with the view as
one more progress listener.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from vidsync.cli.view import EXIT_USAGE, JsonLines, ProgressView, finish
from vidsync.errors import VidsyncError
from vidsync.service import build_service, check_project_path
from vidsync.settings import Settings


def snapshot_in_process(settings: Settings, path: Path, *, json_lines: bool) -> int:
    # Opening the store first: a bad VIDSYNC_STORAGE_URL must not leave a snapshot
    # marked running (build_service raises before any record is written).
    service = build_service(settings, serving=False)
    try:
        try:
            folder = check_project_path(str(path.expanduser().absolute()))
            project = service.project_with_path(folder) or service.create_project(str(folder))
        except VidsyncError as exc:
            print(f"vidsync: {exc.message}", file=sys.stderr)
            return EXIT_USAGE
        view = JsonLines() if json_lines else ProgressView()
        service.tracker.add_listener(view.update)
        with view:
            service.start_snapshot(project)
            while True:
                try:
                    if service.jobs.wait(project.id, timeout=0.2):
                        break
                except KeyboardInterrupt:
                    service.jobs.cancel(project.id)
        retry = f"vidsync snapshot {shlex.quote(str(path))}"
        return finish(service.tracker.current(project.id), retry=retry)
    finally:
        service.close()
