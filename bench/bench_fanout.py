"""Benchmark: progress fan-out to many SSE subscribers, clients in their own processes.

    .venv/bin/python bench/bench_fanout.py [--subscribers 100,1000,5000] [--snapshots 3]
        [--rounds 3]
        [--files 30000] [--bus memory|redis] [--workers 1|2] [--per-process 250]

Starts a real agent (``vidsync serve``) on a free port with a fresh data dir and a
generated folder of ``--files`` files. For each N it opens N connections to
``/api/v1/progress/stream`` from client processes (asyncio, raw sockets, at most
``--per-process`` connections each), runs ``--snapshots`` snapshots back to back,
closes them, and does it all again ``--rounds`` times, each round after
``--snapshots`` snapshots with no subscriber. It prints:

- publish -> receive latency p50/p95/p99/max in ms, from each event's own
  ``timestamp`` (set when the agent published it) against its arrival time in the
  client, same machine, same clock;
- KiB of server memory (RSS, all agent processes) per subscriber;
- the snapshot time with N subscribers against snapshots with none: the median
  over rounds of each round's median with N over its median with none (each
  round's own ratio is printed too).

Snapshot time is the server's own record (``durationSeconds``), so client-side
delays do not count. Targets (issue 10): 1,000 subscribers p99 <= 25 ms and
<= 30 KiB each; snapshot time 100 subscribers <= 1.05x none, 1,000 <= 1.10x.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

_TS = re.compile(rb'"timestamp":"([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def build_tree(root: Path, files: int, per_dir: int = 100) -> Path:
    marker = root / f".built-{files}"
    if marker.exists():
        return root
    for i in range(0, files, per_dir):
        d = root / f"d{i // (per_dir * 50):03d}" / f"s{i // per_dir:05d}"
        d.mkdir(parents=True, exist_ok=True)
        for j in range(i, min(i + per_dir, files)):
            (d / f"clip_{j:07d}.mov").touch()
    marker.touch()
    return root


# -- client processes ----------------------------------------------------------
#
# Each client process holds up to --per-process connections in one epoll loop
# and only records (arrival time, bytes) while events flow; parsing waits for
# the report. A client that parsed every frame as it came would spend the CPU
# the agent needs on this 2-core machine, and its own queueing would show up
# as delivery latency.

_REQUEST = (b"GET /api/v1/progress/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Accept: text/event-stream\r\n\r\n")


def _parse_ts(raw: bytes) -> float:
    return datetime.fromisoformat(raw.decode().replace("Z", "+00:00")).timestamp()


def _latencies(chunks: list[tuple[int, float, bytes]]) -> list[float]:
    """Publish -> arrival in ms for every event, from the recorded chunks."""
    lat: list[float] = []
    partial: dict[int, bytes] = {}
    for fd, at, data in chunks:
        *lines, partial[fd] = (partial.get(fd, b"") + data).split(b"\n")
        for line in lines:
            if line.startswith(b"data: "):
                m = _TS.search(line)
                if m:
                    lat.append((at - _parse_ts(m.group(1))) * 1000.0)
    return lat


def client_process(port: int, count: int, conn: Connection) -> None:
    ep = select.epoll()
    socks: dict[int, socket.socket] = {}
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(_REQUEST)
        s.setblocking(False)
        socks[s.fileno()] = s
        ep.register(s.fileno(), select.EPOLLIN)
    ep.register(conn.fileno(), select.EPOLLIN)
    connected: set[int] = set()
    chunks: list[tuple[int, float, bytes]] = []
    recording = False
    while True:
        for fd, _ in ep.poll(1.0):
            if fd == conn.fileno():
                message = conn.recv()
                if message == "go":  # from now on, events are publishes
                    recording = True
                    conn.send(("recording", count))
                    continue
                conn.send(("latencies", _latencies(chunks)))  # "report"
                for s in socks.values():
                    s.close()
                return
            try:
                data = socks[fd].recv(65536)
            except BlockingIOError:
                continue
            if not data:
                ep.unregister(fd)
                continue
            if recording:
                chunks.append((fd, time.time(), data))
            elif fd not in connected and b"retry:" in data:
                connected.add(fd)
                if len(connected) == count:
                    conn.send(("ready", count))


# -- the agent -------------------------------------------------------------------


class Agent:
    def __init__(self, data_dir: Path, bus: str, workers: int) -> None:
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "VIDSYNC_DATA_DIR": str(data_dir), "VIDSYNC_PORT": str(self.port),
               "VIDSYNC_PROGRESS_BUS": bus}
        cmd = [sys.executable, "-m", "vidsync.cli.main", "serve", "--log-level", "warning"]
        if os.environ.get("BENCH_PROFILE"):  # profile the serving loop (the main thread)
            cmd[1:1] = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(data_dir / "agent.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"agent did not start: {(data_dir / 'agent.log').read_text()}")
            time.sleep(0.1)
        self.http = httpx.Client(base_url=self.url, timeout=60)

    def rss_kib(self) -> int:
        """Resident memory of the agent and all its child processes."""
        pids = [self.proc.pid]
        for pid in pids:  # grows: workers (--workers), their snapshot processes
            with contextlib.suppress(FileNotFoundError):
                kids = Path(f"/proc/{pid}/task/{pid}/children").read_text()
                pids += [int(p) for p in kids.split()]
        total = 0
        for pid in pids:
            with contextlib.suppress(FileNotFoundError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total

    def serving_cpu(self) -> tuple[float, float]:
        """CPU seconds (user, system) of the serving process(es) so far: the agent,
        or with --workers its worker processes (not the snapshot processes)."""
        pids = [self.proc.pid]
        if self.workers > 1:
            pids = [int(p) for p in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
                    .read_text().split()]
        tick = os.sysconf("SC_CLK_TCK")
        user = system = 0.0
        for pid in pids:
            with contextlib.suppress(FileNotFoundError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                user += int(fields[11]) / tick
                system += int(fields[12]) / tick
        return user, system

    def snapshot(self, project_id: str) -> float:
        """Run one snapshot to its end; the server's recorded duration in seconds."""
        r = self.http.post(f"/api/v1/projects/{project_id}/snapshot")
        r.raise_for_status()
        sid = r.json()["snapshotId"]
        while True:
            # The history list: one query, no manifest read (a page of entries
            # would parse the whole manifest in the agent on every poll).
            records = self.http.get(f"/api/v1/projects/{project_id}/snapshots",
                                    params={"limit": 1}).json()["snapshots"]
            record = records[0]
            assert record["snapshotId"] == sid, (record, sid)
            if record["state"] != "running":
                if record["state"] != "completed":
                    raise SystemExit(f"snapshot {sid} ended {record['state']}: {record}")
                return float(record["durationSeconds"])
            time.sleep(0.05)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def measure(agent: Agent, project_id: str, n: int, snapshots: int, per_process: int,
            rounds: int) -> dict[str, Any]:
    """``rounds`` rounds of: ``snapshots`` snapshots with no subscriber, then N
    subscribers connect, ``snapshots`` snapshots, they leave. The snapshot-time
    ratio is the median over rounds of each round's medians (the machine's speed
    drifts: a baseline next to its figure is fairer than one taken once)."""
    ratios: list[float] = []
    base_all: list[float] = []
    with_all: list[float] = []
    latencies: list[float] = []
    kib_per_sub = float("nan")
    user = system = 0.0
    for round_ in range(rounds):
        base = [agent.snapshot(project_id) for _ in range(snapshots)]
        rss_before = agent.rss_kib()
        procs = _connect(agent, n, per_process)
        if round_ == 0:
            kib_per_sub = (agent.rss_kib() - rss_before) / n
        for _, conn in procs:
            conn.send("go")
        for _, conn in procs:
            conn.recv()
        cpu_before = agent.serving_cpu()
        with_subs = [agent.snapshot(project_id) for _ in range(snapshots)]
        time.sleep(0.5)  # let the last frames arrive before asking for the figures
        cpu_after = agent.serving_cpu()
        user += cpu_after[0] - cpu_before[0]
        system += cpu_after[1] - cpu_before[1]
        for _, conn in procs:
            conn.send("report")
        for p, conn in procs:
            latencies += conn.recv()[1]
            p.join(30)
        time.sleep(0.5)  # the agent lets go of the streams before the next baseline
        ratios.append(statistics.median(with_subs) / statistics.median(base))
        base_all += base
        with_all += with_subs
    return {
        "n": n,
        "events": len(latencies),
        "p50": pct(latencies, 0.50),
        "p95": pct(latencies, 0.95),
        "p99": pct(latencies, 0.99),
        "max": max(latencies, default=float("nan")),
        "kib_per_sub": kib_per_sub,
        "none_s": statistics.median(base_all),
        "with_s": statistics.median(with_all),
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        # The serving process's CPU per delivered frame: the fan-out's own cost,
        # much steadier than latency on a shared machine.
        "us_per_frame": (user + system) / max(1, len(latencies)) * 1e6,
        "system_share": system / max(1e-9, user + system),
    }


def _connect(agent: Agent, n: int, per_process: int
             ) -> list[tuple[mp.process.BaseProcess, Connection]]:
    """N subscribers in client processes, connected and waiting for "go"."""
    procs: list[tuple[mp.process.BaseProcess, Connection]] = []
    ctx = mp.get_context("spawn")
    left = n
    while left > 0:
        count = min(per_process, left)
        left -= count
        ours, theirs = ctx.Pipe()
        p = ctx.Process(target=client_process, args=(agent.port, count, theirs), daemon=True)
        p.start()
        procs.append((p, ours))
    for _, conn in procs:
        if not conn.poll(120):
            raise SystemExit("clients did not connect within 120 s")
        conn.recv()
    return procs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscribers", default="100,1000,5000")
    ap.add_argument("--snapshots", type=int, default=3, help="per round, each way")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--files", type=int, default=30000)
    ap.add_argument("--bus", default="memory", help="memory, redis (starts redis-server), "
                    "or a redis:// URL")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--per-process", type=int, default=250)
    ap.add_argument("--keep", help="keep the generated tree in this folder")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vidsync-fanout-"))
    tree = build_tree(Path(args.keep) if args.keep else tmp / "tree", args.files)
    redis_proc = None
    bus = args.bus
    if bus == "redis":
        port = free_port()
        redis_proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", str(tmp), "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bus = f"redis://127.0.0.1:{port}/0"
        time.sleep(0.3)
    agent = Agent(tmp / "data", bus, args.workers)
    try:
        project = agent.http.post("/api/v1/projects", json={"name": "bench",
                                  "localPath": str(tree)}).json()
        agent.snapshot(project["projectId"])  # warm the page cache and the code
        print(f"fan-out: {args.files} files, bus={args.bus}, workers={args.workers}, "
              f"{args.rounds} rounds of {args.snapshots} snapshots without and with "
              f"subscribers; times and ratio are medians")
        print(f"{'subs':>6} {'events':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
              f"{'max ms':>8} {'KiB/sub':>8} {'none s':>7} {'with s':>7} {'ratio':>6} "
              f"{'µs/frame':>8} {'kernel':>6}")
        for n in [int(x) for x in args.subscribers.split(",")]:
            r = measure(agent, project["projectId"], n, args.snapshots, args.per_process,
                        args.rounds)
            print(f"{r['n']:>6} {r['events']:>8} {r['p50']:>8.1f} {r['p95']:>8.1f} "
                  f"{r['p99']:>8.1f} {r['max']:>8.1f} {r['kib_per_sub']:>8.1f} "
                  f"{r['none_s']:>7.3f} {r['with_s']:>7.3f} {r['ratio']:>6.2f} "
                  f"{r['us_per_frame']:>8.1f} {r['system_share']:>6.0%}   rounds: "
                  + " ".join(f"{x:.2f}" for x in r["ratios"]), flush=True)
    finally:
        agent.stop()
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
