from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.agent import AgentProcess


@pytest.fixture
def agent_factory(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """Start real agent processes: ``agent_factory(VIDSYNC_THROTTLE="0.001")``."""
    started: list[AgentProcess] = []

    def start(data_dir: Path | None = None, port: int | None = None, **env: str) -> AgentProcess:
        agent = AgentProcess(data_dir or tmp_path / "agent-data", port, **env)
        started.append(agent)
        return agent.start()

    yield start
    for agent in started:
        agent.stop()


@pytest.fixture
def agent(agent_factory: Callable[..., AgentProcess]) -> AgentProcess:
    return agent_factory()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
