"""The team view's data: what an agent says about itself and its running snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vidsync.models import iso_utc
from vidsync.progress.tracker import ProgressTracker


@dataclass
class AgentInfo:
    """One agent of the team, as listed by GET /api/v1/agents."""

    name: str
    url: str
    last_heartbeat: float
    running: list[dict[str, Any]] = field(default_factory=list)
    alive: bool = True
    this: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "lastHeartbeat": iso_utc(self.last_heartbeat),
            "alive": self.alive,
            "self": self.this,
            "running": self.running,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], last_heartbeat: float) -> AgentInfo:
        return cls(
            name=str(data["name"]),
            url=str(data.get("url") or ""),
            last_heartbeat=last_heartbeat,
            running=list(data.get("running") or []),
        )


def running_summary(tracker: ProgressTracker) -> list[dict[str, Any]]:
    """What an agent says about its running snapshots in its heartbeat."""
    return [
        {
            "projectId": e.project_id,
            "snapshotId": e.snapshot_id,
            "step": e.step.value,
            "stepNumber": e.step_number,
            "progress": e.progress,
        }
        for e in tracker.active()
    ]
