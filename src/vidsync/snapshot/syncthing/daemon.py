"""Managed mode: a private, loopback-only Syncthing that the agent starts and stops.

The instance lives under ``data_dir/syncthing``. Its config is edited before every
start so that it makes no outside connection: Syncthing applies discovery, relay,
NAT and usage-reporting settings at start-up, so turning them off later through the
REST API would be too late.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

from vidsync.snapshot.syncthing.rest import SyncthingError

# Option -> value written under <options> before each start.
_PRIVATE_OPTIONS: dict[str, str] = {
    "globalAnnounceEnabled": "false",
    "localAnnounceEnabled": "false",
    "relaysEnabled": "false",
    "natEnabled": "false",
    "crashReportingEnabled": "false",
    "startBrowser": "false",
    "urAccepted": "-1",
    "autoUpgradeIntervalH": "0",
}
# Sync protocol listener: loopback on a port the kernel picks. Nothing connects to
# it (no peers are configured), but Syncthing insists on having one.
_LISTEN_ADDRESS = "tcp://127.0.0.1:0"
_LOG_LIMIT = 5 * 2**20


class SyncthingStartError(SyncthingError):
    """The managed Syncthing could not be set up or did not become ready."""


def _alive(pid: int) -> bool:
    """True while the process runs (a zombie, waiting to be reaped, has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_private(config_path: Path) -> None:
    """Rewrite ``config.xml`` so the instance never talks to anything but loopback."""
    try:
        tree = ET.parse(config_path)
    except ET.ParseError as exc:
        raise SyncthingStartError(
            f"the managed Syncthing's configuration {config_path} is damaged ({exc}): "
            "move it away and the agent will create a new one"
        ) from None
    options = tree.getroot().find("options")
    if options is None:
        raise SyncthingStartError(f"{config_path} has no <options> section")
    for tag in ("listenAddress", "globalAnnounceServer"):
        for old in options.findall(tag):
            options.remove(old)
    ET.SubElement(options, "listenAddress").text = _LISTEN_ADDRESS
    for name, value in _PRIVATE_OPTIONS.items():
        element = options.find(name)
        if element is None:
            element = ET.SubElement(options, name)
        element.text = value
    tree.write(config_path, encoding="utf-8", xml_declaration=False)


class SyncthingDaemon:
    """Start and stop a private Syncthing whose home is ``home``.

    ``url`` and ``api_key`` are valid after ``start()``. The API key is new on every
    start, so a key that leaked from an earlier run is useless.
    """

    def __init__(
        self,
        home: Path,
        *,
        binary: str = "syncthing",
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.home = home
        self.binary = binary
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.api_key = secrets.token_urlsafe(24)
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def log_path(self) -> Path:
        return self.home / "syncthing.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, limit: int = 4000) -> str:
        """The end of what the latest start wrote to the log."""
        try:
            with self.log_path.open("rb") as log:
                size = log.seek(0, os.SEEK_END)
                log.seek(max(self._log_offset, size - limit))
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def start(self) -> None:
        executable = shutil.which(self.binary)
        if executable is None:
            raise SyncthingStartError(
                f"the syncthing program ({self.binary}) is not installed: "
                "install it (apt-get install syncthing) or set VIDSYNC_SYNCTHING_URL"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "config.xml"
        if not config.exists():
            self._run_generate(executable)
        make_private(config)
        # The free port can be taken between our probe and Syncthing's bind; then
        # Syncthing exits at once and a second port is tried.
        last_error: SyncthingStartError | None = None
        for _ in range(3):
            try:
                self._start_once(executable, free_loopback_port())
                return
            except SyncthingStartError as exc:
                last_error = exc
                if "address already in use" not in str(exc):
                    raise
        assert last_error is not None
        raise last_error

    def _run_generate(self, executable: str) -> None:
        result = subprocess.run(
            [
                executable,
                "generate",
                f"--home={self.home}",
                "--no-default-folder",
                "--skip-port-probing",
            ],
            capture_output=True,
            env=self._env(),
            timeout=self.start_timeout,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode("utf-8", "replace")
            raise SyncthingStartError(f"syncthing generate failed:\n{output}")

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            # One process instead of monitor + child, so stopping it leaves nothing.
            STMONITORED="yes",
            STNODEFAULTFOLDER="1",
            STNOUPGRADE="1",
            # Skip the hashing benchmark that delays start-up by a second.
            STHASHING="minio",
        )
        return env

    @property
    def pid_path(self) -> Path:
        return self.home / "vidsync-syncthing.pid"

    def _stop_stale(self) -> None:
        """Stop a Syncthing a previous agent left running (the agent was killed).

        Syncthing refuses to start twice on one home; the pid file written at
        each start says which process is ours, and /proc confirms it still is.
        """
        try:
            pid = int(self.pid_path.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return
        if not cmdline or b"syncthing" not in os.path.basename(cmdline[0]) or (
            f"--home={self.home}".encode() not in cmdline
        ):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                # Not our child: nothing to wait() on, so look at /proc briefly.
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

    def _start_once(self, executable: str, port: int) -> None:
        url = f"http://127.0.0.1:{port}"
        self._stop_stale()
        self._rotate_log()
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self._process = subprocess.Popen(
                [
                    executable,
                    "serve",
                    f"--home={self.home}",
                    "--no-browser",
                    "--no-restart",
                    "--no-upgrade",
                    f"--gui-address={url}",
                    f"--gui-apikey={self.api_key}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(),
            )
        self.pid_path.write_text(f"{self._process.pid}\n")
        self.url = url
        self._wait_ready()

    def _rotate_log(self) -> None:
        # The log is appended to across starts; keep one old generation only.
        try:
            if self.log_path.stat().st_size > _LOG_LIMIT:
                self.log_path.replace(self.log_path.with_name(self.log_path.name + ".1"))
        except FileNotFoundError:
            pass

    def _wait_ready(self) -> None:
        process = self._process
        assert process is not None
        deadline = time.monotonic() + self.start_timeout
        with httpx.Client(headers={"X-API-Key": self.api_key}, timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    self._process = None
                    raise SyncthingStartError(
                        f"syncthing exited at start with code {process.returncode}; "
                        f"its log ({self.log_path}):\n{self.log_tail()}"
                    )
                try:
                    if client.get(f"{self.url}/rest/system/ping").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise SyncthingStartError(
                        f"syncthing did not answer on {self.url} within "
                        f"{self.start_timeout:.0f} s; its log ({self.log_path}):\n"
                        f"{self.log_tail()}"
                    )
                # Poll the process, not a fixed sleep: returns early if it exits.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(0.05)

    def stop(self) -> None:
        """Ask Syncthing to shut down; escalate to SIGTERM, then SIGKILL."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            httpx.post(
                f"{self.url}/rest/system/shutdown",
                headers={"X-API-Key": self.api_key},
                timeout=2.0,
            )
        except httpx.HTTPError:
            process.send_signal(signal.SIGTERM)
        for escalate in (signal.SIGTERM, signal.SIGKILL):
            try:
                process.wait(self.stop_timeout)
                return
            except subprocess.TimeoutExpired:
                process.send_signal(escalate)
        process.wait()

    def __enter__(self) -> SyncthingDaemon:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
