"""The progress bus: how this agent's events reach other processes and agents.

``memory`` (the embedded default) keeps everything in this process: the
tracker's own fan-out is the whole bus. ``redis://`` adds Redis Streams
(``redis_bus.RedisBus``). Either way local clients are served by the local
tracker, so a bus that is down never stops an agent from showing its own work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from vidsync.progress.team import AgentInfo, running_summary
from vidsync.progress.tracker import ProgressTracker

__all__ = ["AgentInfo", "MemoryBus", "ProgressBus", "open_bus", "running_summary"]


class ProgressBus(Protocol):
    @property
    def status(self) -> str | None:
        """None for the memory bus, else "ok", "down" or "starting"."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def agents(self) -> list[AgentInfo]: ...


class MemoryBus:
    """One agent, one process: nothing to connect to."""

    def __init__(self, tracker: ProgressTracker, name: str, url: str, clock: Callable[[], float]
                 ) -> None:
        self._tracker = tracker
        self._name = name
        self._url = url
        self._time = clock

    @property
    def status(self) -> str | None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def agents(self) -> list[AgentInfo]:
        return [AgentInfo(self._name, self._url, self._time(), running_summary(self._tracker),
                          this=True)]


def open_bus(
    url: str,
    tracker: ProgressTracker,
    *,
    name: str,
    agent_url: str,
    clock: Callable[[], float],
    retention: float,
    heartbeat: float,
) -> ProgressBus:
    if url == "memory":
        return MemoryBus(tracker, name, agent_url, clock)
    from vidsync.progress.redis_bus import RedisBus  # only agents on Redis import redis

    return RedisBus(url, tracker, name=name, agent_url=agent_url, clock=clock,
                    retention=retention, heartbeat=heartbeat)
