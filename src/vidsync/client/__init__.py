"""Python client of the vidsync agent.

``AsyncAgentClient`` (async) and ``AgentClient`` (blocking) call the HTTP API;
``ProgressClient`` follows one project's progress over SSE with reconnection,
resume, polling fallback and a heartbeat watchdog.
"""

from vidsync.client.agent import AsyncAgentClient
from vidsync.client.backoff import BACKOFF_STEPS, FAILURES_BEFORE_POLLING, Backoff
from vidsync.client.errors import (
    AgentError,
    AgentUnreachable,
    AuthError,
    BadRequestError,
    ConflictError,
    GoneError,
    NotFoundError,
    ServerError,
)
from vidsync.client.progress import ConnectionState, ConnectionStatus, ProgressClient
from vidsync.client.sync import AgentClient
from vidsync.client.types import ClientConfig, has_warnings
from vidsync.settings import default_agent_url

__all__ = [
    "BACKOFF_STEPS",
    "FAILURES_BEFORE_POLLING",
    "AgentClient",
    "AgentError",
    "AgentUnreachable",
    "AsyncAgentClient",
    "AuthError",
    "Backoff",
    "BadRequestError",
    "ClientConfig",
    "ConflictError",
    "ConnectionState",
    "ConnectionStatus",
    "GoneError",
    "NotFoundError",
    "ProgressClient",
    "ServerError",
    "default_agent_url",
    "has_warnings",
]
