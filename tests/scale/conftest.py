"""Fixtures of the team-bus tests: a real Redis."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.redisserver import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: run scripts/setup.sh --test")
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()
