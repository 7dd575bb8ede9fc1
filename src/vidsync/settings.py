"""Configuration from the environment (DESIGN §6), with the defaults of the embedded mode."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


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


MIN_API_KEY_LENGTH = 16


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
    progress_buffer_size: int = 10
    progress_poll_interval_ms: int = 1000
    progress_retention: float = 600.0
    progress_ring_size: int = 1000
    sse_heartbeat: float = 15.0
    sse_retry_ms: int = 1000
    api_key: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    batch_concurrency: int = 2
    # Start snapshots that a kill interrupted again, once, when the agent starts.
    resume_interrupted: bool = False
    # Seconds slept per unit of work (file browsed, chunk written). For tests and
    # demos only: 0 means the pipeline never sleeps.
    throttle: float = 0.0

    @property
    def effective_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "snapshots").resolve().as_uri()

    @property
    def database_path(self) -> Path:
        return self.data_dir / "vidsync.db"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def check(self) -> None:
        if self.api_key is not None and len(self.api_key.strip()) < MIN_API_KEY_LENGTH:
            raise SettingsError(
                f"VIDSYNC_API_KEY is too short ({len(self.api_key.strip())} characters without "
                f"spaces): use at least {MIN_API_KEY_LENGTH}, e.g. "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
            )
        if not is_loopback(self.host) and not self.api_key:
            raise SettingsError(
                f"VIDSYNC_HOST={self.host} is not a loopback address: set VIDSYNC_API_KEY "
                "so that only clients with the key can use the agent"
            )
        if self.progress_bus != "memory":
            # Saying so beats silently running one agent's bus where several were meant.
            raise SettingsError(
                f"VIDSYNC_PROGRESS_BUS={self.progress_bus!r}: only 'memory' is available in "
                "this version (the Redis bus for several agents is not built yet)"
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
        number("VIDSYNC_PROGRESS_BUFFER_SIZE", "progress_buffer_size", int)
        number("VIDSYNC_PROGRESS_POLL_INTERVAL", "progress_poll_interval_ms", int)
        number("VIDSYNC_PROGRESS_RETENTION", "progress_retention", float)
        number("VIDSYNC_SSE_HEARTBEAT", "sse_heartbeat", float)
        number("VIDSYNC_SSE_RETRY_MS", "sse_retry_ms", int)
        if "VIDSYNC_API_KEY" in env and env["VIDSYNC_API_KEY"] != "":
            # Stripped: a key with spaces around it could never match a header.
            kw["api_key"] = env["VIDSYNC_API_KEY"].strip()
        if env.get("VIDSYNC_ALLOWED_HOSTS"):
            kw["allowed_hosts"] = tuple(
                h.strip() for h in env["VIDSYNC_ALLOWED_HOSTS"].split(",") if h.strip()
            )
        number("VIDSYNC_BATCH_CONCURRENCY", "batch_concurrency", int)
        number("VIDSYNC_THROTTLE", "throttle", float)
        if env.get("VIDSYNC_RESUME_INTERRUPTED", "").lower() in ("1", "true", "yes"):
            kw["resume_interrupted"] = True
        return cls(**kw)
