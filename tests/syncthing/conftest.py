"""A real, private Syncthing for the tests, started once per session with daemon.py."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vidsync.snapshot.source import CancelToken
from vidsync.snapshot.syncthing.daemon import SyncthingDaemon, SyncthingStartError
from vidsync.snapshot.syncthing.rest import SyncthingRest
from vidsync.snapshot.syncthing.source import (
    SyncthingSource,
    folder_config,
    register_folder,
    unregister_folder,
)

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def syncthing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncthingDaemon]:
    daemon = SyncthingDaemon(tmp_path_factory.mktemp("syncthing-home"))
    try:
        daemon.start()
    except SyncthingStartError as exc:
        # A missing or broken Syncthing is a failure, never a skip.
        pytest.fail(f"could not start Syncthing: {exc}", pytrace=False)
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def rest(syncthing: SyncthingDaemon) -> Iterator[SyncthingRest]:
    with SyncthingRest(syncthing.url, syncthing.api_key) as client:
        yield client


FolderFactory = Callable[..., str]


@pytest.fixture
def register(rest: SyncthingRest) -> Iterator[FolderFactory]:
    """``register(path, **config)``: add a Syncthing folder with a fresh id, removed after.

    Extra ``config`` fields (e.g. ``hashers=1``) are only for making scans slow.
    """
    added: list[str] = []

    def add(path: Path, **config: Any) -> str:
        folder_id = f"test-{next(_ids)}-{time.monotonic_ns()}"
        added.append(folder_id)
        if config:
            rest.add_folder(folder_config(folder_id, path) | config)
        else:
            register_folder(rest, folder_id, path)
        return folder_id

    yield add
    for folder_id in added:
        unregister_folder(rest, folder_id)


@dataclass
class RecordingProgress:
    """A StepProgress that keeps every call, with the time it was made."""

    calls: list[tuple[float, str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Set at the first in-scan progress report: the scan is under way.
    scanning: threading.Event = field(default_factory=threading.Event)

    def _add(self, kind: str, value: Any) -> None:
        with self.lock:
            self.calls.append((time.monotonic(), kind, value))
        if kind == "done" and value:
            self.scanning.set()

    def set_message(self, message: str) -> None:
        self._add("message", message)

    def set_total(self, total: float | None) -> None:
        self._add("total", total)

    def set_done(self, done: float) -> None:
        self._add("done", done)

    def advance(self, amount: float = 1) -> None:
        self._add("advance", amount)

    def values(self, kind: str) -> list[Any]:
        return [value for _, k, value in self.calls if k == kind]


@dataclass
class Snapshot:
    """What the three source steps produced."""

    entries: list[Any]
    status: Any
    progress: RecordingProgress


def run_source_steps(source: SyncthingSource) -> Snapshot:
    progress, cancel = RecordingProgress(), CancelToken()
    source.wait_ready(progress, cancel)
    status = source.status(progress, cancel)
    entries = list(source.entries(progress, cancel))
    return Snapshot(entries, status, progress)


@pytest.fixture
def run_steps() -> Callable[[SyncthingSource], Snapshot]:
    """Run steps 1-3 of a source as the pipeline does, recording progress."""
    return run_source_steps


@pytest.fixture
def recording() -> RecordingProgress:
    return RecordingProgress()
