"""Data of vidsync: progress events, projects, snapshots, manifest entries. No I/O."""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

TOTAL_STEPS = 6


class Step(StrEnum):
    IDLE = "idle"
    WAITING = "waiting"
    BROWSING = "browsing"
    COMPRESSING = "compressing"
    UPLOADING = "uploading"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STEPS


TERMINAL_STEPS = frozenset({Step.COMPLETED, Step.FAILED, Step.CANCELLED})

# stepNumber -> step name, as in DESIGN §2 (steps 2 and 3 are both "browsing").
STEP_NAMES: dict[int, Step] = {
    1: Step.WAITING,
    2: Step.BROWSING,
    3: Step.BROWSING,
    4: Step.COMPRESSING,
    5: Step.UPLOADING,
    6: Step.COMPLETED,
}


def human_size(n: int) -> str:
    """1024-based units, labelled as such: 2576980378 -> '2.4 GiB'."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def iso_utc(seconds: float) -> str:
    """RFC 3339 UTC with milliseconds: '2026-11-28T16:03:43.123Z'."""
    whole = int(seconds)
    millis = round((seconds - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


@dataclass(frozen=True, slots=True)
class UploadRetry:
    """An upload failed and will be tried again: attempt ``attempt`` of ``max_attempts``
    retries, after ``delay_seconds``."""

    attempt: int
    max_attempts: int
    delay_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "maxAttempts": self.max_attempts,
            "delaySeconds": self.delay_seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UploadRetry:
        return cls(int(data["attempt"]), int(data["maxAttempts"]), float(data["delaySeconds"]))

    @property
    def message(self) -> str:
        return (
            f"Upload failed, retrying in {self.delay_seconds:g} s "
            f"(attempt {self.attempt} of {self.max_attempts})"
        )



@dataclass(slots=True)
class ProgressEvent:
    """One progress event; it always carries the whole current state (DESIGN §3)."""

    project_id: str
    step: Step
    step_number: int
    progress: int
    message: str
    timestamp: float
    id: int = 0
    snapshot_id: str | None = None
    file_count: int | None = None
    total_bytes: int | None = None
    snapshot_url: str | None = None
    error: str | None = None
    step_done: float | None = None
    step_total: float | None = None
    rate: float | None = None
    eta_seconds: float | None = None
    resync: bool = False
    # A batch snapshot reserved but waiting for a free slot.
    queued: bool = False
    # An upload retry in progress.
    retry: UploadRetry | None = None
    # Entries left out (vanished, unreadable, special), on terminal events only.
    skipped_count: int | None = None
    skipped: dict[str, int] | None = None
    # Name of the agent that runs the snapshot (VIDSYNC_AGENT_NAME): the team view.
    agent: str | None = None
    # Position in the agent-wide sequence (the all-projects stream's SSE id); not in JSON.
    global_id: int = 0
    # The compact JSON text, made once however many subscribers send it. Not an
    # init field, so ``replace`` (e.g. a resync copy) never carries a stale one.
    _text: str | None = field(default=None, init=False, repr=False, compare=False)
    # The SSE frames (per-project id, agent-wide id), encoded once per event.
    _frame: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _global_frame: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def terminal(self) -> bool:
        return self.step.terminal

    @property
    def has_warnings(self) -> bool:
        """Completed, but some entries were left out: "completed with N skipped"."""
        return self.step is Step.COMPLETED and bool(self.skipped_count)

    def replace(self, **changes: Any) -> ProgressEvent:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "projectId": self.project_id,
            "step": self.step.value,
            "stepNumber": self.step_number,
            "totalSteps": TOTAL_STEPS,
            "progress": self.progress,
            "fileCount": self.file_count,
            "totalSize": human_size(self.total_bytes) if self.total_bytes is not None else None,
            "message": self.message,
            "timestamp": iso_utc(self.timestamp),
            "id": self.id,
            "snapshotId": self.snapshot_id,
            "totalBytes": self.total_bytes,
            "stepDone": self.step_done,
            "stepTotal": self.step_total,
            "rate": self.rate,
            "etaSeconds": self.eta_seconds,
            "queued": self.queued,
            "retry": self.retry.to_json() if self.retry is not None else None,
            "skippedCount": self.skipped_count,
            "skipped": self.skipped,
            "agent": self.agent,
        }
        if self.snapshot_url is not None:
            data["snapshotUrl"] = self.snapshot_url
        if self.error is not None:
            data["error"] = self.error
        if self.resync:
            data["resync"] = True
        return data

    def json_text(self) -> str:
        """``to_json()`` as compact JSON text, computed once per event."""
        if self._text is None:
            self._text = json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False)
        return self._text

    def sse_frame(self, agent_wide: bool = False) -> bytes:
        """The SSE frame with ``id`` (or ``global_id``), encoded once per event."""
        if agent_wide:
            if self._global_frame is None:
                # Another agent's event (global_id 0) has no place in this agent's
                # sequence: sent without an id, it leaves the client's resume point alone.
                head = f"id: {self.global_id}\n" if self.global_id else ""
                self._global_frame = f"{head}data: {self.json_text()}\n\n".encode()
            return self._global_frame
        if self._frame is None:
            self._frame = f"id: {self.id}\ndata: {self.json_text()}\n\n".encode()
        return self._frame

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProgressEvent:
        return cls(
            project_id=data["projectId"],
            step=Step(data["step"]),
            step_number=int(data["stepNumber"]),
            progress=int(data["progress"]),
            message=data.get("message") or "",
            timestamp=_parse_iso(data["timestamp"]) if data.get("timestamp") else 0.0,
            id=int(data.get("id") or 0),
            snapshot_id=data.get("snapshotId"),
            file_count=data.get("fileCount"),
            total_bytes=data.get("totalBytes"),
            snapshot_url=data.get("snapshotUrl"),
            error=data.get("error"),
            step_done=data.get("stepDone"),
            step_total=data.get("stepTotal"),
            rate=data.get("rate"),
            eta_seconds=data.get("etaSeconds"),
            resync=bool(data.get("resync", False)),
            queued=bool(data.get("queued", False)),
            retry=UploadRetry.from_json(data["retry"]) if data.get("retry") else None,
            skipped_count=data.get("skippedCount"),
            skipped=data.get("skipped"),
            agent=data.get("agent"),
        )


def _parse_iso(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def idle_event(project_id: str, now: float, last_id: int = 0) -> ProgressEvent:
    """The poll answer for a project with no snapshot state (stepNumber 0)."""
    return ProgressEvent(
        project_id=project_id,
        step=Step.IDLE,
        step_number=0,
        progress=0,
        message="No snapshot generation in progress",
        timestamp=now,
        id=last_id,
    )


def new_project_id() -> str:
    return f"proj-{secrets.token_hex(6)}"


class SourceKind(StrEnum):
    LOCAL = "local"
    SYNCTHING = "syncthing"


@dataclass(slots=True)
class Project:
    id: str
    name: str
    local_path: str
    source: SourceKind
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "projectId": self.id,
            "name": self.name,
            "localPath": self.local_path,
            "source": self.source.value,
            "createdAt": iso_utc(self.created_at),
        }


# The error of a snapshot whose agent process stopped or was killed while it ran.
INTERRUPTED = "interrupted: the agent stopped"


class SnapshotState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class SnapshotRecord:
    id: str
    project_id: str
    state: SnapshotState
    started_at: float
    finished_at: float | None = None
    file_count: int | None = None
    directory_count: int | None = None
    total_bytes: int | None = None
    skipped_count: int | None = None
    manifest_url: str | None = None
    manifest_bytes: int | None = None
    error: str | None = None
    skipped: dict[str, int] | None = None  # skipped_count by kind
    resume_of: str | None = None  # the interrupted snapshot this one restarted

    @property
    def has_warnings(self) -> bool:
        return self.state is SnapshotState.COMPLETED and bool(self.skipped_count)

    def to_json(self) -> dict[str, Any]:
        duration = None
        if self.finished_at is not None:
            duration = round(self.finished_at - self.started_at, 3)
        return {
            "snapshotId": self.id,
            "projectId": self.project_id,
            "state": self.state.value,
            "startedAt": iso_utc(self.started_at),
            "finishedAt": iso_utc(self.finished_at) if self.finished_at is not None else None,
            "durationSeconds": duration,
            "fileCount": self.file_count,
            "directoryCount": self.directory_count,
            "totalBytes": self.total_bytes,
            "totalSize": human_size(self.total_bytes) if self.total_bytes is not None else None,
            "skippedCount": self.skipped_count,
            "skipped": self.skipped,
            "snapshotUrl": self.manifest_url,
            "manifestBytes": self.manifest_bytes,
            "error": self.error,
            "resumeOf": self.resume_of,
        }


@dataclass(slots=True)
class ManifestEntry:
    """One file, directory or symlink of a snapshot.

    ``path`` is relative to the project root with ``/`` separators. A name whose
    bytes are not valid UTF-8 is shown with U+FFFD in ``path``; its exact bytes
    are kept in ``raw_path`` (``pathBase64`` in JSON), so nothing is lost.
    """

    path: str
    size: int
    is_directory: bool
    mod_time_ns: int
    is_symlink: bool = False
    raw_path: bytes | None = None

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]


@dataclass(slots=True)
class FolderStatus:
    """What step 2 learns about a folder before browsing it (None: unknown)."""

    file_count: int | None = None
    directory_count: int | None = None
    total_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
