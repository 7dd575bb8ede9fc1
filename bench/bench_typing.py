"""Benchmark: typing in the tree filter of a big snapshot, through a real agent.

    .venv/bin/python bench/bench_typing.py [--files 200000] [--runs 3] [--pause 0.3]
        [--keep DIR]

Starts ``vidsync serve`` on a free port with a fresh data dir, snapshots a
generated folder of ``--files`` files, then types a query one step at a time as
the web filter sends it: one ``files-search`` per pause of ``--pause`` seconds
(longer than the filter's 250 ms debounce). Each client runs in this process,
the agent in its own. Two ways, alternating, ``--runs`` times each:

- **keep**: the requests for older text stay open until their answers come
  (the page before it aborted them; answers were only dropped);
- **abort**: each new request closes the previous one, as the page does now;
  the agent stops reading the manifest for it.

Prints the time from the last query to its answer, the median of each way and
their ratio (abort / keep), and the agent's count of abandoned reads.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_fanout import free_port  # bench/ is on the path of a script run from it

QUERIES = ["c", "cl", "cli", "clip", "clip_", "clip_00", "clip_0071", "clip_007196"]


def build_tree(root: Path, files: int, per_dir: int = 100) -> Path:
    marker = root / f".built-{files}"
    if marker.exists():
        return root
    for i in range(files):
        d = root / f"d{i // (per_dir * 50):03d}" / f"s{i // per_dir:05d}"
        if i % per_dir == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"clip_{i:07d}.mov").write_bytes(b"x")
    marker.touch()
    return root


class Agent:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "VIDSYNC_DATA_DIR": str(data_dir), "VIDSYNC_PORT": str(self.port)}
        self.proc = subprocess.Popen([sys.executable, "-m", "vidsync", "serve", "--log-level",
                                      "warning"], env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/api/v1/health").status_code == 200:
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the agent did not start")
            time.sleep(0.1)

    def snapshot(self, folder: Path) -> str:
        pid: str = httpx.post(self.url + "/api/v1/projects",
                              json={"localPath": str(folder)}).json()["projectId"]
        httpx.post(f"{self.url}/api/v1/projects/{pid}/snapshot").raise_for_status()
        while (step := httpx.get(f"{self.url}/api/v1/projects/{pid}/progress").json()["step"]) \
                not in ("completed", "failed", "cancelled"):
            time.sleep(0.2)
        if step != "completed":
            raise SystemExit(f"the snapshot ended {step}")
        return pid

    def ask(self, pid: str, query: str) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall(f"GET /api/v1/projects/{pid}/files-search?q={query}&limit=50 HTTP/1.1\r\n"
                     f"Host: 127.0.0.1:{self.port}\r\nConnection: close\r\n\r\n".encode())
        return sock

    def abandoned(self) -> float:
        key = 'vidsync_manifest_reads_abandoned_total{route="files-search"} '
        return sum(float(line[len(key):]) for line in httpx.get(self.url + "/metrics").text
                   .splitlines() if line.startswith(key))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def answer(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def type_query(agent: Agent, pid: str, abort: bool, pause: float) -> float:
    """Seconds from the last query to its whole answer."""
    older: list[socket.socket] = []
    for query in QUERIES[:-1]:
        sock = agent.ask(pid, query)
        if abort:
            for s in older:
                s.close()
            older = []
        older.append(sock)
        time.sleep(pause)
    if abort:
        for s in older:
            s.close()
        older = []
    start = time.perf_counter()
    body = answer(agent.ask(pid, QUERIES[-1]))
    elapsed = time.perf_counter() - start
    if not body.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"search failed: {body[:300]!r}")
    for s in older:  # let them end before the next run
        answer(s)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pause", type=float, default=0.3)
    ap.add_argument("--keep", help="build the folder here and keep it between runs")
    args = ap.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vidsync-typing-"))
    data = Path(tempfile.mkdtemp(prefix="vidsync-typing-data-"))
    agent = None
    try:
        folder = build_tree(base / f"tree-{args.files}", args.files)
        agent = Agent(data)
        pid = agent.snapshot(folder)
        times: dict[str, list[float]] = {"keep": [], "abort": []}
        for _ in range(args.runs):
            for way in ("keep", "abort"):
                times[way].append(type_query(agent, pid, way == "abort", args.pause))
        print(f"typing {len(QUERIES)} steps of a query, {args.pause} s apart, "
              f"{args.files:,} files, {args.runs} runs each way")
        for way, values in times.items():
            print(f"  {way:5}  last answer after {statistics.median(values):.2f} s  "
                  f"({' '.join(f'{v:.2f}' for v in values)})")
        ratio = statistics.median(times["abort"]) / statistics.median(times["keep"])
        print(f"  ratio abort / keep: {ratio:.2f}; reads the agent abandoned: "
              f"{agent.abandoned():.0f}")
    finally:
        if agent is not None:
            agent.stop()
        shutil.rmtree(data, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
