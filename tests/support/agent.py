"""A real agent process on a free port, started and stopped by tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

AgentFactory = Callable[..., "AgentProcess"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(condition: object, timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll ``condition()`` until it is truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


class AgentProcess:
    """``python -m vidsync serve`` with its own data dir; stderr kept for failures."""

    def __init__(
        self, data_dir: Path, port: int | None = None, *, log_level: str = "warning", **env: str
    ) -> None:
        self.data_dir = data_dir
        self.log_level = log_level
        self.port = port or free_port()
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"agent-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> AgentProcess:
        env = {
            **os.environ,
            "VIDSYNC_DATA_DIR": str(self.data_dir),
            "VIDSYNC_PORT": str(self.port),
            "VIDSYNC_HOST": "127.0.0.1",
            **self.env,
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vidsync.cli.main", "serve", "--log-level", self.log_level],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"agent not ready within {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def snapshot_and_wait(agent: AgentProcess, project_id: str, timeout: float = 30.0) -> str:
    """Start a snapshot of a project and wait until it completed; its id."""
    base = f"{agent.url}/api/v1/projects/{project_id}"
    r = httpx.post(f"{base}/snapshot")
    assert r.status_code == 202, r.text
    snapshot_id: str = r.json()["snapshotId"]

    def completed() -> bool:
        state = httpx.get(f"{base}/progress").json()
        return bool(state["snapshotId"] == snapshot_id and state["step"] == "completed")

    wait_until(completed, timeout=timeout)
    return snapshot_id
