"""Step 1's event handling where a real Syncthing cannot be made to misbehave on cue:
dropped events. A scripted Syncthing (httpx.MockTransport) plays the REST API."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from vidsync.snapshot.source import CancelToken, SourceError
from vidsync.snapshot.syncthing.browse import parse_time_ns
from vidsync.snapshot.syncthing.rest import SyncthingRest
from vidsync.snapshot.syncthing.scanwait import STATE_MESSAGES
from vidsync.snapshot.syncthing.source import SyncthingSource


class ScriptedSyncthing:
    """Folder "f" scanning; the event stream skips ids 1-6, then the folder is in error."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.release_scan = threading.Event()
        self.status_reads = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, query = request.url.path, request.url.params
        if path == "/rest/config/folders/f":
            return _json({"id": "f", "path": str(self.root)})
        if path == "/rest/db/status":
            self.status_reads += 1
            if self.status_reads == 1:
                return _json({"state": "scanning"})
            return _json({"state": "error", "error": "folder path missing"})
        if path == "/rest/db/scan":
            self.release_scan.wait(10)
            return httpx.Response(500, text="folder path missing")
        if path == "/rest/events" and query.get("limit") == "1":
            return _json([])
        if path == "/rest/events":
            # Ids 1-6 were dropped; id 7 is about another folder, so only the gap
            # can tell the source that something happened to "f".
            return _json([{"id": 7, "type": "StateChanged", "data": {"folder": "other"}}])
        return httpx.Response(404, text="not scripted")


def _json(data: Any) -> httpx.Response:
    return httpx.Response(200, content=json.dumps(data).encode())


def test_a_gap_in_event_ids_is_recovered_by_reading_the_status(
    tmp_path: Path, recording: Any
) -> None:
    fake = ScriptedSyncthing(tmp_path)
    transport = httpx.MockTransport(fake)
    with SyncthingRest("http://syncthing.test", "key", transport=transport) as rest:
        source = SyncthingSource(rest, "f", tmp_path, scan_timeout=3)
        try:
            with pytest.raises(SourceError, match="folder path missing"):
                source.wait_ready(recording, CancelToken())
        finally:
            fake.release_scan.set()
    assert fake.status_reads == 2  # the initial read, then the one the gap forced


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-11-29T02:57:51.789075819Z", 1_795_921_071_789_075_819),
        ("2026-11-29T03:57:51.5+01:00", 1_795_921_071_500_000_000),
        ("1969-12-31T23:59:59.000000001Z", -999_999_999),
    ],
)
def test_browse_times_keep_nanoseconds(text: str, ns: int) -> None:
    assert parse_time_ns(text) == ns


class SettledSyncthing:
    """The scan answers at once; the folder then stays in ``state``."""

    def __init__(self, root: Path, state: str) -> None:
        self.root = root
        self.state = state
        self.quiet = threading.Event()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/rest/config/folders/f":
            return _json({"id": "f", "path": str(self.root)})
        if path == "/rest/db/status":
            return _json({"state": self.state, "error": "folder marker missing (for real)"})
        if path == "/rest/db/scan":
            return httpx.Response(200)
        if path == "/rest/events" and request.url.params.get("limit") == "1":
            return _json([])
        if path == "/rest/events":
            self.quiet.wait(0.05)  # a short long-poll with nothing new
            return _json([])
        return httpx.Response(404, text="not scripted")


@pytest.mark.parametrize("state", sorted(STATE_MESSAGES))
def test_only_idle_means_done(tmp_path: Path, recording: Any, state: str) -> None:
    fake = SettledSyncthing(tmp_path, state)
    with SyncthingRest("http://syncthing.test", "key", transport=httpx.MockTransport(fake)) as rest:
        # Idle must end the wait however slow the machine; the others time out.
        timeout = 10.0 if state == "idle" else 0.2
        source = SyncthingSource(rest, "f", tmp_path, scan_timeout=timeout)
        if state == "idle":
            source.wait_ready(recording, CancelToken())
            return
        with pytest.raises(SourceError) as info:
            source.wait_ready(recording, CancelToken())
    if state == "error":
        assert "folder marker missing (for real)" in str(info.value)
    else:
        assert f"within 0.2 s (state {state})" in str(info.value)
        assert STATE_MESSAGES[state] in recording.values("message")
