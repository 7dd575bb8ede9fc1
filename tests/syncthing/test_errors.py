"""Every way a Syncthing snapshot can go wrong ends it as failed, quickly, with a
message that says what to fix."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.trees import make_tree
from vidsync.models import SnapshotState, Step
from vidsync.progress.reporter import SnapshotReporter
from vidsync.progress.tracker import ProgressTracker
from vidsync.snapshot.pipeline import SnapshotJob, run_snapshot
from vidsync.snapshot.source import CancelToken, SnapshotCancelled, SourceError
from vidsync.snapshot.syncthing.daemon import SyncthingDaemon
from vidsync.snapshot.syncthing.rest import (
    SyncthingAuthError,
    SyncthingRest,
    SyncthingUnreachable,
    UnknownFolder,
)
from vidsync.snapshot.syncthing.source import SyncthingSource, register_folder
from vidsync.storage.local import LocalStore

pytestmark = pytest.mark.syncthing

# Each failure must be reported well within this: the waits it must not fall into
# are the 120 s scan timeout and HTTP timeouts. (That a wait ends before the scan
# does is checked on Syncthing's own state, not on the clock.)
PROMPT = 20.0
# Long enough to scan (about 9 s with one hasher here) that a test which ends a
# wait mid-scan finds Syncthing still scanning, on a faster machine too.
LONG_SCAN_MIB = 3072


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def big_tree(root: Path, mib: int = 768) -> Path:
    """Sparse files: instant to create, but Syncthing hashes every byte."""
    root.mkdir()
    for i in range(mib // 12):
        with (root / f"clip{i:03d}.mov").open("wb") as f:
            f.truncate(12 * 2**20)
    return root


def fails_promptly(call: Callable[[], object], error: type[Exception] = SourceError) -> str:
    started = time.monotonic()
    with pytest.raises(error) as info:
        call()
    assert time.monotonic() - started < PROMPT
    return str(info.value)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "project", {"a.mov": b"a" * 100, "sub": {"b.mov": b"b"}})


def test_unreachable_syncthing(tree: Path, recording: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with SyncthingRest(url, "key") as rest:
        source = SyncthingSource(rest, "proj", tree)
        message = fails_promptly(
            lambda: source.wait_ready(recording, CancelToken()), SyncthingUnreachable
        )
    assert f"cannot reach Syncthing at {url}: is it running?" in message


def test_wrong_api_key(syncthing: SyncthingDaemon, tree: Path, recording: Any) -> None:
    with SyncthingRest(syncthing.url, "not-the-key") as rest:
        source = SyncthingSource(rest, "proj", tree)
        message = fails_promptly(
            lambda: source.wait_ready(recording, CancelToken()), SyncthingAuthError
        )
        assert "wrong Syncthing API key (VIDSYNC_SYNCTHING_API_KEY)" in message
        with pytest.raises(SyncthingAuthError):
            register_folder(rest, "proj", tree)


def test_unknown_folder(rest: SyncthingRest, tree: Path, recording: Any) -> None:
    source = SyncthingSource(rest, "never-registered", tree)
    message = fails_promptly(lambda: source.wait_ready(recording, CancelToken()), UnknownFolder)
    assert 'has no folder "never-registered"' in message
    assert "create it again" in message
    with pytest.raises(UnknownFolder):
        source.status(recording, CancelToken())


def test_folder_removed_while_the_agent_runs(
    rest: SyncthingRest, register: Callable[..., str], run_steps: Any, tree: Path, recording: Any
) -> None:
    folder = register(tree)
    source = SyncthingSource(rest, folder, tree)
    run_steps(source)
    shutil.rmtree(tree)

    message = fails_promptly(lambda: source.wait_ready(recording, CancelToken()))
    assert "folder path missing" in message  # Syncthing's own words
    assert str(tree) in message and "restore the folder" in message
    assert not tree.exists()  # Syncthing did not recreate it
    with pytest.raises(SourceError, match="folder path missing"):
        source.status(recording, CancelToken())


def test_folder_removed_between_scan_and_walk(
    rest: SyncthingRest, register: Callable[..., str], tree: Path, recording: Any
) -> None:
    folder = register(tree)
    source = SyncthingSource(rest, folder, tree)
    source.wait_ready(recording, CancelToken())
    source.status(recording, CancelToken())
    shutil.rmtree(tree)
    message = fails_promptly(lambda: list(source.entries(recording, CancelToken())))
    assert "does not exist" in message and "restore the folder" in message


def test_register_refuses_a_missing_folder_and_creates_nothing(
    rest: SyncthingRest, tmp_path: Path
) -> None:
    missing = tmp_path / "not-there"
    with pytest.raises(SourceError, match="does not exist"):
        register_folder(rest, "proj-missing", missing)
    assert not missing.exists()
    with pytest.raises(UnknownFolder):
        rest.get_folder("proj-missing")


def test_scan_timeout(
    rest: SyncthingRest, register: Callable[..., str], tmp_path: Path, recording: Any
) -> None:
    root = big_tree(tmp_path / "big", LONG_SCAN_MIB)
    folder = register(root, hashers=1)
    source = SyncthingSource(rest, folder, root, scan_timeout=0.5)
    message = fails_promptly(lambda: source.wait_ready(recording, CancelToken()))
    assert f'did not finish scanning folder "{folder}" within 0.5 s' in message
    assert "VIDSYNC_SYNCTHING_SCAN_TIMEOUT" in message
    assert rest.db_status(folder)["state"] == "scanning"  # it did not wait for the scan


def test_cancel_during_the_scan(
    rest: SyncthingRest, register: Callable[..., str], tmp_path: Path, recording: Any
) -> None:
    root = big_tree(tmp_path / "big", LONG_SCAN_MIB)
    folder = register(root, hashers=1)
    source = SyncthingSource(rest, folder, root)
    cancel = CancelToken()
    canceller = threading.Thread(
        target=lambda: recording.scanning.wait(30) and cancel.cancel()
    )
    canceller.start()
    try:
        fails_promptly(lambda: source.wait_ready(recording, cancel), SnapshotCancelled)
    finally:
        canceller.join(35)
    assert recording.scanning.is_set()  # it was cancelled during the scan
    assert rest.db_status(folder)["state"] == "scanning"  # and did not wait for its end


@pytest.fixture
def doomed_syncthing(tmp_path: Path) -> Iterator[SyncthingDaemon]:
    daemon = SyncthingDaemon(tmp_path / "doomed-home")
    daemon.start()
    yield daemon
    daemon.stop()


def test_syncthing_stopping_during_the_scan(
    doomed_syncthing: SyncthingDaemon, tmp_path: Path, recording: Any
) -> None:
    root = big_tree(tmp_path / "big")
    with SyncthingRest(doomed_syncthing.url, doomed_syncthing.api_key) as rest:
        register_folder(rest, "proj-doomed", root)
        source = SyncthingSource(rest, "proj-doomed", root)
        stopper = threading.Thread(
            target=lambda: recording.scanning.wait(30) and doomed_syncthing.stop()
        )
        stopper.start()
        try:
            message = fails_promptly(lambda: source.wait_ready(recording, CancelToken()))
        finally:
            stopper.join(35)
    assert recording.scanning.is_set()  # Syncthing went away during the scan
    assert "Syncthing at" in message


def test_pipeline_ends_failed_with_the_message(
    rest: SyncthingRest, register: Callable[..., str], tmp_path: Path, tree: Path
) -> None:
    folder = register(tree)
    shutil.rmtree(tree)
    tracker = ProgressTracker(buffer_size=1000)
    events: list[Any] = []
    tracker.add_listener(events.append)
    job = SnapshotJob(
        project_id=folder,
        snapshot_id="snap-1",
        source=SyncthingSource(rest, folder, tree),
        store=LocalStore(tmp_path / "store"),
        reporter=SnapshotReporter(tracker.publish, folder, "snap-1", min_interval=0),
        work_dir=tmp_path / "work",
        cancel=CancelToken(),
    )
    result = run_snapshot(job)
    assert result.state is SnapshotState.FAILED
    assert result.error is not None and "folder path missing" in result.error
    assert events[-1].step is Step.FAILED and events[-1].step_number == 1
