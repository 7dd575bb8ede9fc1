"""The wire format as pydantic models: every JSON answer of the agent, camelCase.

``/openapi.json`` is generated from these, the routes declare them as their
response models, and the tests check that the Python client's TypedDicts and
the hand-written fast paths (``ProgressEvent.to_json``) say the same.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# -- errors --------------------------------------------------------------------


class ErrorBody(Wire):
    """Every error of every route: a message that says what to fix."""

    detail: str = Field(description="What went wrong and how to fix it")
    field: str | None = Field(default=None, description="The input at fault, if one is")
    project_id: str | None = Field(default=None, description="The project concerned, if any")
    snapshot_id: str | None = Field(default=None, description="The snapshot concerned, if any")


# -- progress ------------------------------------------------------------------


class RetryInfo(Wire):
    """An upload retry in progress: retry ``attempt`` of ``maxAttempts``, after ``delaySeconds``."""

    attempt: int
    max_attempts: int
    delay_seconds: float


class ProgressEventBody(Wire):
    """One progress event: the whole current state of a project's snapshot (DESIGN §3)."""

    project_id: str
    step: Literal["idle", "waiting", "browsing", "compressing", "uploading", "completed",
                  "failed", "cancelled"]
    step_number: int = Field(ge=0, le=6)
    total_steps: int
    progress: int = Field(ge=0, le=100)
    file_count: int | None
    total_size: str | None = Field(description="Display text of totalBytes, e.g. '2.4 GiB'")
    message: str
    timestamp: str = Field(description="RFC 3339 UTC with milliseconds")
    id: int = Field(description="Rises by one per event of a project; the SSE id")
    snapshot_id: str | None
    total_bytes: int | None
    step_done: float | None
    step_total: float | None
    rate: float | None = Field(description="Units of the step per second (see /api/v1/config)")
    eta_seconds: float | None
    queued: bool = Field(default=False, description="A batch snapshot waiting for a free slot")
    agent: str | None = Field(
        default=None, description="The agent that runs the snapshot (VIDSYNC_AGENT_NAME)"
    )
    skipped_count: int | None = Field(
        default=None, description="Terminal events: entries left out (0 when none)"
    )
    skipped: dict[str, int] | None = Field(
        default=None, description="skippedCount by kind: vanished, unreadable, special"
    )
    retry: RetryInfo | None = None
    snapshot_url: str | None = Field(default=None, description="Only on completed")
    error: str | None = Field(default=None, description="Only on failed")
    resync: bool | None = Field(default=None, description="True on a full-state resync")


class EventLog(Wire):
    snapshot_id: str
    events: list[ProgressEventBody]


# -- projects and snapshots ----------------------------------------------------


class SnapshotBody(Wire):
    """A snapshot record: state, counts, timing, where its manifest is."""

    snapshot_id: str
    project_id: str
    state: Literal["running", "completed", "failed", "cancelled"]
    started_at: str
    finished_at: str | None
    duration_seconds: float | None
    file_count: int | None
    directory_count: int | None
    total_bytes: int | None
    total_size: str | None
    skipped_count: int | None
    skipped: dict[str, int] | None = Field(
        description="skippedCount by kind: vanished, unreadable, special"
    )
    snapshot_url: str | None
    manifest_bytes: int | None
    error: str | None
    resume_of: str | None = Field(
        default=None, description="The interrupted snapshot this one restarted"
    )


class SkippedEntry(Wire):
    kind: Literal["vanished", "unreadable", "special"]
    path: str


class SkippedPage(Wire):
    """A page of what a snapshot left out; only the first paths are kept (``stored``)."""

    snapshot_id: str
    skipped_count: int | None
    skipped: dict[str, int] | None
    stored: int
    entries: list[SkippedEntry]
    offset: int
    limit: int
    next_offset: int | None


class ProjectBody(Wire):
    """A project with its live progress and latest snapshot."""

    project_id: str
    name: str
    local_path: str
    source: Literal["local", "syncthing"]
    created_at: str
    progress: ProgressEventBody | None
    latest_snapshot: SnapshotBody | None
    running_snapshot_id: str | None


class ProjectList(Wire):
    projects: list[ProjectBody]


class Started(Wire):
    """A snapshot was started: follow it at ``streamUrl`` (SSE) or ``progressUrl`` (poll)."""

    project_id: str
    snapshot_id: str
    progress_url: str
    stream_url: str


class ProjectStarted(ProjectBody, Started):
    """A project was created and its first snapshot started."""


class Cancelled(Wire):
    project_id: str
    snapshot_id: str


class SnapshotList(Wire):
    project_id: str
    snapshots: list[SnapshotBody]
    offset: int
    limit: int
    total: int = Field(description="the project's snapshots in all")
    next_offset: int | None = Field(description="the offset of the next page; null on the last")


class EntryBody(Wire):
    """One manifest entry (file, directory or symlink)."""

    name: str
    path: str
    size: int
    is_directory: bool
    mod_time: str
    is_symlink: bool | None = None
    path_base64: str | None = Field(default=None, description="Exact bytes of a non-UTF-8 name")


class SnapshotPage(Wire):
    """One snapshot and a page of its manifest entries."""

    snapshot: SnapshotBody
    entries: list[EntryBody]
    offset: int
    limit: int
    total: int | None
    next_offset: int | None


class TreeNode(EntryBody):
    """An entry of the tree; folders carry the totals of everything below them.

    An image sequence is one node (``type`` "sequence") whose children are its
    frame entries; ``size`` and ``totalBytes`` are then the sum of its frames.
    """

    children: list[TreeNode] | None = None
    total_bytes: int | None = Field(default=None, description="Folders: bytes below")
    file_count: int | None = Field(default=None, description="Folders: files below")
    type: Literal["sequence"] | None = Field(default=None, description="Set on a sequence")
    frames: str | None = Field(default=None, description="Sequence: first-last frame")
    first_frame: int | None = None
    last_frame: int | None = None
    missing: str | None = Field(default=None, description="Sequence: absent frames, 1201-1203")
    missing_count: int | None = None
    match: bool | None = Field(
        default=None, description="Search: this entry matched (the others lead to one)"
    )


class Tree(Wire):
    snapshot: SnapshotBody
    path: str
    tree: list[TreeNode]


class TreeSearch(Tree):
    """The entries whose name contains ``query``, in the folders that lead to them."""

    query: str
    limit: int
    matches: int = Field(description="matching nodes in ``tree`` (at most ``limit``)")
    total: int = Field(description="all matching entries; a sequence counts once")
    truncated: bool = Field(description="more entries matched than ``tree`` holds")


class Change(Wire):
    """One change; ``moved`` and ``sequence`` changes carry the fields below."""

    change: Literal["added", "removed", "modified", "typeChanged", "moved", "sequence"]
    path: str
    before: EntryBody | None
    after: EntryBody | None
    from_: str | None = Field(default=None, alias="from", description="Moved: where it was")
    file_count: int | None = Field(default=None, description="Moved folder: files in it")
    total_bytes: int | None = Field(default=None, description="Moved folder: bytes in it")
    entry_count: int | None = Field(default=None, description="Moved folder: entries in it")
    action: Literal["added", "removed", "modified", "moved"] | None = Field(
        default=None, description="Sequence: what happened to its frames"
    )
    name: str | None = Field(default=None, description="Sequence: sh010.####.exr")
    frames: str | None = Field(default=None, description="Sequence: the frames, 2401-2448")
    from_frames: str | None = Field(default=None, description="Moved sequence: old frames")
    frame_count: int | None = None
    bytes: int | None = Field(default=None, description="Sequence: bytes (modified: delta)")
    skipped_in: Literal["from", "to"] | None = Field(
        default=None,
        description="Added or removed: that snapshot skipped the entry (or a folder above "
                    "it: unreadable, special, vanished), so it may not have changed at all",
    )


class DiffCounts(Wire):
    added: int
    removed: int
    modified: int
    type_changed: int
    moved: int = Field(default=0, description="Entries moved or renamed")


class DiffBytes(Wire):
    added: int
    removed: int
    modified_delta: int
    total_delta: int


class DiffPage(Wire):
    """What changed from snapshot ``from`` to ``to``; ``changes`` is one page."""

    project_id: str
    from_: str = Field(alias="from")
    to: str
    counts: DiffCounts
    bytes: DiffBytes
    changes: list[Change]
    offset: int
    limit: int
    total: int
    next_offset: int | None


class BatchItem(Wire):
    project_id: str
    snapshot_id: str


class BatchError(Wire):
    project_id: str
    detail: str


class BatchBody(Wire):
    started: list[BatchItem]
    queued: list[BatchItem]
    errors: list[BatchError]
    limit: int


# -- agent ---------------------------------------------------------------------


class Health(Wire):
    status: Literal["ok"]
    version: str
    storage: str
    progress_bus: str
    team_bus: Literal["ok", "starting", "down"] | None = Field(
        description="The Redis team bus; null with the memory bus"
    )
    worker: int = Field(description="The id of the process that answered (one of "
                        "VIDSYNC_WORKERS serving processes)")


class RunningSnapshot(Wire):
    project_id: str
    snapshot_id: str | None
    step: str
    step_number: int
    progress: int


class AgentBody(Wire):
    name: str
    url: str
    last_heartbeat: str
    alive: bool
    self_: bool = Field(alias="self", description="This agent")
    running: list[RunningSnapshot]


class AgentList(Wire):
    team_bus: Literal["ok", "starting", "down"] | None
    agents: list[AgentBody]


class StepBody(Wire):
    step_number: int
    step: str
    label: str
    unit: Literal["files", "bytes"] | None


class BackoffBody(Wire):
    delays_ms: list[int] = Field(description="Wait before reconnect attempt n (the last repeats)")
    jitter: float = Field(description="Each delay is spread by up to this fraction either way")


class ClientConfig(Wire):
    """What every client follows: steps and labels, terminal states, timings."""

    poll_interval_ms: int
    heartbeat_seconds: float
    retry_ms: int
    backoff: BackoffBody
    total_steps: int
    steps: list[StepBody]
    terminal_states: list[str]
    state_labels: dict[str, str]
