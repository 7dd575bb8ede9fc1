"""``vidsync serve --workers N``: N serving processes on one port.

The parent binds the socket once and starts N processes (``spawn``: fresh
interpreters, nothing inherited but the socket) that each run the usual server
on it; the kernel spreads connections among them. They share the data
directory: the SQLite journal numbers every event and decides which process
runs a snapshot (``store/db.py``), and each process shows its siblings' events
(``progress/siblings.py``). The parent restarts a worker that dies, and on
SIGTERM or SIGINT stops them all gracefully.

uvicorn's own ``Multiprocess`` supervisor runs plain ``uvicorn.Server``
workers; ours need the agent's server (its shutdown ends the SSE streams and
fails running snapshots as interrupted), so this is a small supervisor of its own.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from prometheus_client import multiprocess

from vidsync.api.metrics import MULTIPROC_ENV
from vidsync.settings import Settings
from vidsync.store.db import Database

log = logging.getLogger("uvicorn.error")

STARTUP_FAILURE = 3  # uvicorn's exit code when a worker cannot start
# A worker that dies sooner than this after its start, this many times in a row,
# would only keep dying (a broken configuration): stop instead.
QUICK_DEATH = 5.0
QUICK_DEATHS = 5
ORPHAN_CHECK = 0.5  # seconds between a worker's looks at its supervisor


# One serving process: ``server.run_server(settings, log_level, sockets=[...])``.
# Given by the caller (a module-level function, so a spawned process can import
# it), which keeps this module below the server.
ServeOne = Callable[..., None]


def _serve_worker(serve_one: ServeOne, settings: Settings, log_level: str,
                  sockets: list[socket.socket], parent: int) -> None:
    """A worker process: serve, and stop gracefully if the supervisor is gone
    (killed with SIGKILL, say), rather than hold the port with nobody to restart
    or stop it."""

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK)
        log.warning("the supervisor [%s] is gone: stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch_parent, name="watch-supervisor", daemon=True).start()
    serve_one(settings, log_level, sockets=sockets)


class Supervisor:
    def __init__(self, settings: Settings, serve_one: ServeOne, log_level: str = "info") -> None:
        self.settings = settings
        self.serve_one = serve_one
        self.log_level = log_level
        self.count = settings.workers
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list[Any] = []
        self._started: list[float] = []
        self._stop = threading.Event()
        self._sock: socket.socket | None = None

    def _bind(self) -> socket.socket:
        config = uvicorn.Config("vidsync.api.app:create_app", host=self.settings.host,
                                port=self.settings.port, log_level=self.log_level)
        return config.bind_socket()

    def _spawn(self, index: int) -> None:
        proc = self._ctx.Process(
            target=_serve_worker,
            args=(self.serve_one, self.settings, self.log_level, [self._sock], os.getpid()),
            name=f"vidsync-worker-{index}",
        )
        proc.start()
        self._procs[index] = proc
        self._started[index] = time.monotonic()
        log.info("started worker process [%s]", proc.pid)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self._stop.set()

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; the exit code (1 if the workers cannot start)."""
        # The schema once, before the workers open the database together.
        Database(self.settings.database_path).close()
        metrics_dir, own_dir = _metrics_dir()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self._sock = self._bind()
        self._procs = [None] * self.count
        self._started = [0.0] * self.count
        quick = [0] * self.count
        code = 0
        try:
            for i in range(self.count):
                self._spawn(i)
            while not self._stop.is_set():
                wait([p.sentinel for p in self._procs], timeout=0.2)
                for i, proc in enumerate(self._procs):
                    if proc.is_alive() or self._stop.is_set():
                        continue
                    proc.join()
                    multiprocess.mark_process_dead(proc.pid, metrics_dir)  # type: ignore[no-untyped-call]
                    lived = time.monotonic() - self._started[i]
                    quick[i] = quick[i] + 1 if lived < QUICK_DEATH else 0
                    if proc.exitcode == STARTUP_FAILURE or quick[i] >= QUICK_DEATHS:
                        log.error("worker process [%s] cannot start (exit code %s): stopping",
                                  proc.pid, proc.exitcode)
                        code = 1
                        self._stop.set()
                        break
                    log.warning("worker process [%s] died (exit code %s): starting another",
                                proc.pid, proc.exitcode)
                    self._spawn(i)
        finally:
            self._shutdown()
            self._sock.close()
            if own_dir:
                shutil.rmtree(metrics_dir, ignore_errors=True)
        return code

    def _shutdown(self, timeout: float = 20.0) -> None:
        """SIGTERM to every worker (each fails its snapshots as interrupted and ends
        its streams), then wait; kill what is still there after ``timeout``."""
        alive = [p for p in self._procs if p is not None and p.is_alive()]
        for proc in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in alive:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.warning("worker process [%s] did not stop: killing it", proc.pid)
                proc.kill()
                proc.join()


def _metrics_dir() -> tuple[str, bool]:
    """The directory where the workers' metrics meet (``PROMETHEUS_MULTIPROC_DIR``):
    the one given, emptied of an earlier run's files, or a fresh one of our own."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        for old in Path(given).glob("*.db"):
            old.unlink(missing_ok=True)
        return given, False
    made = tempfile.mkdtemp(prefix="vidsync-metrics-")
    os.environ[MULTIPROC_ENV] = made  # inherited by the spawned workers
    return made, True


def supervise(settings: Settings, serve_one: ServeOne, log_level: str = "info") -> int:
    return Supervisor(settings, serve_one, log_level).run()
