"""The agent's wired-together parts, shared by the routes."""

from __future__ import annotations

from fastapi import Request

from vidsync.service import PROJECT_ID_RE, SNAPSHOT_ID_RE, Service, SourceFactory

# The routes call the service layer; ``Agent`` is its name on the HTTP side.
Agent = Service

__all__ = ["PROJECT_ID_RE", "SNAPSHOT_ID_RE", "Agent", "SourceFactory", "get_agent"]


def get_agent(request: Request) -> Service:
    agent: Service = request.app.state.agent
    return agent
