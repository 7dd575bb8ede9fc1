"""Configuration from the ``VIDSYNC_`` environment variables (DESIGN §6), with the
defaults of the embedded mode, read and checked by pydantic-settings."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

PREFIX = "VIDSYNC_"


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


# The environment ``Settings.from_env(env)`` reads instead of os.environ.
_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("vidsync_settings_env", default=None)


class _Environment(EnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = _ENV.get()
        if env is None:
            return super()._load_env_vars()
        return parse_env_vars(env, self.case_sensitive, self.env_ignore_empty,
                              self.env_parse_none_str)


def _env(name: str) -> Any:
    """A field read from ``VIDSYNC_<name>`` whose variable name differs from the field's."""
    return AliasChoices(PREFIX + name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,  # VIDSYNC_PORT= means the default, as it always did
        frozen=True,
        extra="ignore",
        validate_by_name=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(default=5001, ge=1, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    syncthing_url: str | None = None
    syncthing_api_key: str | None = Field(default=None, repr=False)
    syncthing_managed: bool = False
    syncthing_scan_timeout: float = Field(default=120.0, gt=0)
    progress_bus: str = "memory"
    # This agent's name in the team view (GET /api/v1/agents, the "agent" event field).
    agent_name: str = Field(default_factory=socket.gethostname)
    # Seconds between two heartbeats of this agent on the Redis bus.
    agent_heartbeat: float = Field(default=2.0, gt=0)
    # Serving processes on one port, sharing the data directory (vidsync serve --workers).
    workers: int = Field(default=1, ge=1, le=64)
    # Local-folder snapshots run in a worker process (not a thread of the server).
    snapshot_process: bool = True
    # The agent's snapshot processes and walk workers run this much nicer (lower CPU
    # priority) than its serving loop: watchers' events are not queued behind a walk.
    snapshot_nice: int = Field(default=10, ge=0, le=19)
    # How other agents' users reach this one (GET /api/v1/agents); default from host/port.
    public_url: str | None = None
    progress_buffer_size: int = Field(default=10, ge=1)
    progress_poll_interval_ms: int = Field(
        default=1000, ge=50, le=60_000, validation_alias=_env("PROGRESS_POLL_INTERVAL")
    )
    progress_retention: float = Field(default=600.0, ge=0)
    progress_ring_size: int = Field(default=1000, ge=1)
    sse_heartbeat: float = Field(default=15.0, gt=0)
    sse_retry_ms: int = Field(default=1000, ge=0)
    api_key: str | None = Field(default=None, repr=False)
    # Comma-separated in the environment.
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    batch_concurrency: int = Field(default=2, ge=1)
    # Start snapshots that a kill interrupted again, once, when the agent starts.
    resume_interrupted: bool = False
    # Seconds slept per unit of work (file browsed, chunk written). For tests and
    # demos only: 0 means the pipeline never sleeps.
    throttle: float = Field(default=0.0, ge=0)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(h.strip() for h in value.split(",") if h.strip())
        return value

    @field_validator("api_key", mode="after")
    @classmethod
    def _strip_key(cls, value: str | None) -> str | None:
        # A key with spaces around it could never match a header.
        return value.strip() if value is not None else None

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand_user(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _Environment(settings_cls))

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
        return self.model_copy(update=changes)

    def check(self) -> None:
        """Rules between settings (each value alone was checked when it was read)."""
        if self.api_key is not None and len(self.api_key) < MIN_API_KEY_LENGTH:
            raise SettingsError(
                f"VIDSYNC_API_KEY is too short ({len(self.api_key)} characters without "
                f"spaces): use at least {MIN_API_KEY_LENGTH}, e.g. "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
            )
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (default: the process environment); SettingsError names
        the variable at fault and what it expects."""
        with _reading(env):
            try:
                return cls()
            except ValidationError as exc:
                raise SettingsError(_explain(exc, env)) from None


@contextmanager
def _reading(env: Mapping[str, str] | None) -> Iterator[None]:
    token = _ENV.set(env)
    try:
        yield
    finally:
        _ENV.reset(token)


def variable(name: str) -> str:
    """The environment variable of a settings field."""
    info: FieldInfo = Settings.model_fields[name]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return PREFIX + name.upper()


_EXPECTED = {
    "int_parsing": "a whole number",
    "float_parsing": "a number",
    "bool_parsing": "true or false (1, 0, yes, no)",
}


def _explain(exc: ValidationError, env: Mapping[str, str] | None) -> str:
    env = os.environ if env is None else env
    problems = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        name = variable(field) if field in Settings.model_fields else field
        value = env.get(name, err.get("input"))
        ctx = err.get("ctx") or {}
        if err["type"] in _EXPECTED:
            expected = _EXPECTED[err["type"]]
        elif "ge" in ctx or "gt" in ctx:
            expected = f"at least {ctx['ge']}" if "ge" in ctx else f"more than {ctx['gt']}"
        elif "le" in ctx:
            expected = f"at most {ctx['le']}"
        else:
            expected = err["msg"]
        problems.append(f"{name}={value!r} is not valid: expected {expected}")
    return "; ".join(problems)


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
