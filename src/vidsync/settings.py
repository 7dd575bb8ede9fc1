"""Configuration from the environment (DESIGN §6), with the defaults of the embedded mode."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A configuration value is wrong; the message says which and how to fix it."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "vidsync"


def default_agent_url(env: Mapping[str, str] | None = None) -> str:
    """``VIDSYNC_AGENT_URL``, else ``http://VIDSYNC_HOST:VIDSYNC_PORT`` (127.0.0.1:5001)."""
    env = os.environ if env is None else env
    if env.get("VIDSYNC_AGENT_URL"):
        return env["VIDSYNC_AGENT_URL"].rstrip("/")
    host = env.get("VIDSYNC_HOST") or "127.0.0.1"
    # An agent listening on every address is reached on loopback.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{env.get('VIDSYNC_PORT') or '5001'}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5001
    data_dir: Path = field(default_factory=default_data_dir)
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    syncthing_url: str | None = None
    syncthing_api_key: str | None = None
    syncthing_managed: bool = False
    syncthing_scan_timeout: float = 120.0
    progress_bus: str = "memory"
    # This agent's name in the team view (GET /api/v1/agents, the "agent" event field).
    agent_name: str = field(default_factory=socket.gethostname)
    # Seconds between two heartbeats of this agent on the Redis bus.
    agent_heartbeat: float = 2.0
    # Local-folder snapshots run in a worker process (not a thread of the server).
    snapshot_process: bool = True
    # How other agents' users reach this one (GET /api/v1/agents); default from host/port.
    public_url: str | None = None
    progress_buffer_size: int = 10
    progress_poll_interval_ms: int = 1000
    progress_retention: float = 600.0
    progress_ring_size: int = 1000
    sse_heartbeat: float = 15.0
    sse_retry_ms: int = 1000
    api_key: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    batch_concurrency: int = 2
    # Seconds slept per unit of work (file browsed, chunk written). For tests and
    # demos only: 0 means the pipeline never sleeps.
    throttle: float = 0.0

    @property
    def effective_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "snapshots").resolve().as_uri()

    @property
    def agent_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = socket.gethostname() if self.host in ("0.0.0.0", "::") else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "vidsync.db"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def check(self) -> None:
        if not is_loopback(self.host) and not self.api_key:
            raise SettingsError(
                f"VIDSYNC_HOST={self.host} is not a loopback address: set VIDSYNC_API_KEY "
                "so that only clients with the key can use the agent"
            )
        if self.progress_bus != "memory":
            _check_redis_url(self.progress_bus)
        if not self.agent_name or len(self.agent_name) > 128 or any(
            c.isspace() or c == ":" for c in self.agent_name
        ):
            raise SettingsError(
                f"VIDSYNC_AGENT_NAME={self.agent_name!r}: give a name of 1-128 characters "
                "without spaces or ':'"
            )
        if self.progress_buffer_size < 1:
            raise SettingsError("VIDSYNC_PROGRESS_BUFFER_SIZE must be at least 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        kw: dict[str, Any] = {}

        def text(name: str, key: str) -> None:
            if env.get(name):
                kw[key] = env[name]

        def number(name: str, key: str, kind: type[int] | type[float]) -> None:
            raw = env.get(name)
            if raw:
                try:
                    kw[key] = kind(raw)
                except ValueError:
                    raise SettingsError(f"{name}={raw!r} is not a number") from None

        text("VIDSYNC_HOST", "host")
        number("VIDSYNC_PORT", "port", int)
        if env.get("VIDSYNC_DATA_DIR"):
            kw["data_dir"] = Path(env["VIDSYNC_DATA_DIR"]).expanduser()
        text("VIDSYNC_STORAGE_URL", "storage_url")
        text("VIDSYNC_S3_ENDPOINT_URL", "s3_endpoint_url")
        text("VIDSYNC_SYNCTHING_URL", "syncthing_url")
        text("VIDSYNC_SYNCTHING_API_KEY", "syncthing_api_key")
        if env.get("VIDSYNC_SYNCTHING_MANAGED", "").lower() in ("1", "true", "yes"):
            kw["syncthing_managed"] = True
        number("VIDSYNC_SYNCTHING_SCAN_TIMEOUT", "syncthing_scan_timeout", float)
        text("VIDSYNC_PROGRESS_BUS", "progress_bus")
        text("VIDSYNC_AGENT_NAME", "agent_name")
        number("VIDSYNC_AGENT_HEARTBEAT", "agent_heartbeat", float)
        text("VIDSYNC_PUBLIC_URL", "public_url")
        if env.get("VIDSYNC_SNAPSHOT_PROCESS", "").lower() in ("0", "false", "no"):
            kw["snapshot_process"] = False
        number("VIDSYNC_PROGRESS_BUFFER_SIZE", "progress_buffer_size", int)
        number("VIDSYNC_PROGRESS_POLL_INTERVAL", "progress_poll_interval_ms", int)
        number("VIDSYNC_PROGRESS_RETENTION", "progress_retention", float)
        number("VIDSYNC_SSE_HEARTBEAT", "sse_heartbeat", float)
        number("VIDSYNC_SSE_RETRY_MS", "sse_retry_ms", int)
        text("VIDSYNC_API_KEY", "api_key")
        if env.get("VIDSYNC_ALLOWED_HOSTS"):
            kw["allowed_hosts"] = tuple(
                h.strip() for h in env["VIDSYNC_ALLOWED_HOSTS"].split(",") if h.strip()
            )
        number("VIDSYNC_BATCH_CONCURRENCY", "batch_concurrency", int)
        number("VIDSYNC_THROTTLE", "throttle", float)
        return cls(**kw)


def _check_redis_url(url: str) -> None:
    """``redis://host:port/db`` (or ``rediss://``); anything else says what is expected."""
    parts = urlsplit(url)
    problem = None
    if parts.scheme not in ("redis", "rediss"):
        problem = "use 'memory' (one agent) or redis://host:port/db (Redis Streams)"
    else:
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            problem = "the port is not a number"
        db = parts.path.strip("/")
        if not parts.hostname:
            problem = "no host: redis://host:port/db"
        elif db and not db.isdigit():
            problem = f"the database {db!r} is not a number"
    if problem:
        raise SettingsError(f"VIDSYNC_PROGRESS_BUS={url!r}: {problem}")
