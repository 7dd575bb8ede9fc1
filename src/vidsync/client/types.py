"""Shapes of the agent's JSON answers (type hints only; nothing is validated).

They mirror ``vidsync.schemas``; tests/api/test_protocol.py fails when the two drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from vidsync.protocol import BACKOFF_DELAYS_S, BACKOFF_JITTER


class SnapshotInfo(TypedDict):
    """A snapshot record: state, counts, timing, where its manifest is."""

    snapshotId: str
    projectId: str
    state: str
    startedAt: str
    finishedAt: str | None
    durationSeconds: float | None
    fileCount: int | None
    directoryCount: int | None
    totalBytes: int | None
    totalSize: str | None
    skippedCount: int | None
    skipped: dict[str, int] | None  # skippedCount by kind: vanished, unreadable, special
    snapshotUrl: str | None
    manifestBytes: int | None
    error: str | None
    resumeOf: NotRequired[str | None]


def has_warnings(snapshot: SnapshotInfo) -> bool:
    """A snapshot "completed with N skipped": a warning, not a plain success."""
    return snapshot["state"] == "completed" and bool(snapshot.get("skippedCount"))


class SkippedEntry(TypedDict):
    kind: str  # vanished | unreadable | special
    path: str


class SkippedPage(TypedDict):
    """A page of what a snapshot left out; only the first paths are kept (``stored``)."""

    snapshotId: str
    skippedCount: int | None
    skipped: dict[str, int] | None
    stored: int
    entries: list[SkippedEntry]
    offset: int
    limit: int
    nextOffset: int | None


class ProjectInfo(TypedDict):
    """A project with its live progress and latest snapshot."""

    projectId: str
    name: str
    localPath: str
    source: str
    createdAt: str
    progress: dict[str, Any] | None
    latestSnapshot: SnapshotInfo | None
    runningSnapshotId: str | None


class Started(TypedDict):
    """The answer to starting a snapshot (with-snapshot adds the project's fields)."""

    projectId: str
    snapshotId: str
    progressUrl: str
    streamUrl: str


class Entry(TypedDict):
    """One manifest entry."""

    name: str
    path: str
    size: int
    isDirectory: bool
    modTime: str
    isSymlink: NotRequired[bool]
    pathBase64: NotRequired[str]


class SnapshotPage(TypedDict):
    """One snapshot and a page of its manifest entries."""

    snapshot: SnapshotInfo
    entries: list[Entry]
    offset: int
    limit: int
    total: int | None
    nextOffset: int | None


class TreeSearch(TypedDict):
    """Entries of a snapshot whose name contains ``query``, in the folders that lead
    to them (nodes as in the files tree; the matching ones have ``match: true``)."""

    snapshot: SnapshotInfo
    path: str
    query: str
    limit: int
    tree: list[dict[str, Any]]
    matches: int
    total: int
    truncated: bool


# Functional form because "from" is a Python keyword.
Change = TypedDict(
    "Change",
    {
        "change": str,  # added | removed | modified | typeChanged | moved | sequence
        "path": str,
        "before": Entry | None,
        "after": Entry | None,
        # moved / moved sequence: where it was
        "from": NotRequired[str],
        # a moved folder
        "fileCount": NotRequired[int],
        "totalBytes": NotRequired[int],
        "entryCount": NotRequired[int],
        # sequence: action is added | removed | modified | moved
        "action": NotRequired[str],
        "name": NotRequired[str],
        "frames": NotRequired[str],
        "fromFrames": NotRequired[str],
        "frameCount": NotRequired[int],
        "bytes": NotRequired[int],
        # added / removed: the snapshot ("from" or "to") skipped it
        "skippedIn": NotRequired[str],
    },
)


class DiffCounts(TypedDict):
    added: int
    removed: int
    modified: int
    typeChanged: int
    moved: NotRequired[int]  # entries moved (agents before moves detection: absent)


class DiffBytes(TypedDict):
    added: int
    removed: int
    modifiedDelta: int
    totalDelta: int


# Functional form because "from" is a Python keyword.
DiffPage = TypedDict(
    "DiffPage",
    {
        "projectId": str,
        "from": str,
        "to": str,
        "counts": DiffCounts,
        "bytes": DiffBytes,
        "changes": list[Change],
        "offset": int,
        "limit": int,
        "total": int,
        "nextOffset": int | None,
    },
)
"""What changed from snapshot ``from`` to ``to``; ``changes`` is one page."""


class BatchStarted(TypedDict):
    projectId: str
    snapshotId: str


class BatchError(TypedDict):
    projectId: str
    detail: str


class BatchResult(TypedDict):
    started: list[BatchStarted]
    queued: list[BatchStarted]
    errors: list[BatchError]
    limit: int


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """What the agent tells clients to do (``GET /api/v1/config``), in seconds."""

    poll_interval: float = 1.0
    heartbeat: float = 15.0
    retry: float = 1.0
    #: Reconnect delays in seconds and their jitter (``backoff`` in the config).
    backoff_delays: tuple[float, ...] = BACKOFF_DELAYS_S
    backoff_jitter: float = BACKOFF_JITTER

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClientConfig:
        retry = float(data.get("retryMs", 1000)) / 1000
        backoff = data.get("backoff")
        if isinstance(backoff, dict) and backoff.get("delaysMs"):
            delays = tuple(float(ms) / 1000 for ms in backoff["delaysMs"])
            jitter = float(backoff.get("jitter", BACKOFF_JITTER))
        else:  # an agent from before the schedule was served: the same defaults
            delays = tuple(step * retry for step in BACKOFF_DELAYS_S)
            jitter = BACKOFF_JITTER
        return cls(
            poll_interval=float(data.get("pollIntervalMs", 1000)) / 1000,
            heartbeat=float(data.get("heartbeatSeconds", 15)),
            retry=retry,
            backoff_delays=delays,
            backoff_jitter=jitter,
        )
