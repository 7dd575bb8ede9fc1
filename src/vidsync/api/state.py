"""The agent's wired-together parts, shared by the routes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from vidsync.api.errors import ApiError
from vidsync.clock import Clock
from vidsync.models import Project, SourceKind
from vidsync.progress.bus import ProgressBus
from vidsync.progress.tracker import ProgressTracker
from vidsync.settings import Settings
from vidsync.snapshot.batch import BatchRunner
from vidsync.snapshot.jobs import Jobs
from vidsync.snapshot.local import LocalSource
from vidsync.snapshot.source import Source
from vidsync.snapshot.syncthing import SyncthingService
from vidsync.storage.base import Store
from vidsync.store.db import Database

PROJECT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SNAPSHOT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,95}$")


@dataclass
class Agent:
    settings: Settings
    clock: Clock
    db: Database
    tracker: ProgressTracker
    store: Store
    jobs: Jobs
    sources: SourceFactory
    batch: BatchRunner
    bus: ProgressBus

    def register_source(self, project: Project) -> None:
        self.sources.register(project)

    def unregister_source(self, project: Project) -> None:
        self.sources.unregister(project)

    def project(self, project_id: str) -> Project:
        """The project, or a 404 that says so (also for ids that cannot exist)."""
        project = self.db.get_project(project_id) if PROJECT_ID_RE.match(project_id) else None
        if project is None:
            raise ApiError(404, f"no project with id {project_id!r}")
        return project


class SourceFactory:
    """Builds each project's Source, and tells Syncthing about new and deleted projects."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.syncthing = SyncthingService(settings)

    def register(self, project: Project) -> None:
        if project.source is SourceKind.SYNCTHING:
            self.syncthing.register(project.id, Path(project.local_path), project.name)

    def unregister(self, project: Project) -> None:
        if project.source is SourceKind.SYNCTHING:
            self.syncthing.unregister(project.id)

    def __call__(self, project: Project) -> Source:
        if project.source is SourceKind.SYNCTHING:
            return self.syncthing.source(project.id, Path(project.local_path), self.clock)
        return LocalSource(Path(project.local_path))


def get_agent(request: Request) -> Agent:
    agent: Agent = request.app.state.agent
    return agent
