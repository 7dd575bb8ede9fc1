"""GET /api/v1/agents: the agents sharing this one's Redis bus (the team view)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from vidsync.api.routing import api_router
from vidsync.api.state import Agent, get_agent
from vidsync.schemas import AgentList

router = api_router()


@router.get(
    "/agents",
    summary="Agents of the team",
    description="This agent first, then every agent that sent a heartbeat to the same Redis "
    "bus: name (VIDSYNC_AGENT_NAME), URL, last heartbeat, alive (heard of within three "
    "heartbeats) and running snapshots. With the memory bus, only this agent. `teamBus` "
    "is null (memory bus), ok, starting or down.",
    response_model=AgentList,
)
def list_agents(agent: Annotated[Agent, Depends(get_agent)]) -> dict[str, Any]:
    return {
        "teamBus": agent.bus.status,
        "agents": [info.to_json() for info in agent.bus.agents()],
    }
