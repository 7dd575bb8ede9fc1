"""Benchmark: `vidsync diff` paging through a diff, against computing it once.

    .venv/bin/python bench/bench_diff_pages.py [--files 100000] [--changed 5000]
        [--runs 3] [--keep DIR]

Starts a real agent (``vidsync serve``), snapshots a ``--files`` tree, touches
``--changed`` files, snapshots again, then times, paired, ``--runs`` times:

- one request for the first page of a diff nobody asked for yet (the agent
  computes the whole diff for it: the cost of computing it once);
- `vidsync diff` of the same snapshots with other options (computed once too,
  then every page of 1,000 changes), as a user runs it.

Before the agent kept its recent diffs, every page computed the whole diff
again, so the ratio was about the number of pages; now it is about one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_snapshot import build_tree  # bench/ is on the path of a script run from it
from bench_typing import Agent


def snapshot(client: httpx.Client, project_id: str) -> str:
    sid: str = client.post(f"/api/v1/projects/{project_id}/snapshot").json()["snapshotId"]
    while client.get(f"/api/v1/projects/{project_id}/snapshots",
                     params={"limit": 1}).json()["snapshots"][0]["state"] == "running":
        time.sleep(0.1)
    return sid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--changed", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="build the tree here and keep it between runs")
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vidsync-bench-"))
    tree = build_tree(base / f"tree-{args.files}", args.files)
    data = Path(tempfile.mkdtemp(prefix="vidsync-bench-data-"))
    agent = Agent(data)
    url = agent.url
    client = httpx.Client(base_url=url, timeout=600)
    try:
        pid = client.post("/api/v1/projects", json={"localPath": str(tree)}).json()["projectId"]
        once, paged = [], []
        for run in range(args.runs):
            a = snapshot(client, pid)
            now = time.time() + run + 1  # a new time each run: every file changes again
            for path in sorted(tree.rglob("*.mov"))[: args.changed]:
                os.utime(path, (now, now))
            b = snapshot(client, pid)
            start = time.perf_counter()
            first = client.get(f"/api/v1/projects/{pid}/snapshots/{a}/diff/{b}",
                               params={"moves": "false", "limit": 1})
            once.append(time.perf_counter() - start)
            first.raise_for_status()
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "vidsync", "diff", "--agent", url, pid, a, b],
                           check=True, stdout=subprocess.DEVNULL)
            paged.append(time.perf_counter() - start)
        med = statistics.median
        pages = -(-first.json()["total"] // 1000)
        print(f"diff of {args.files:,} files with {args.changed:,} changed ({pages} pages of "
              f"1,000), median of {args.runs} paired runs")
        print(f"  one page, diff computed once   {med(once):7.2f} s")
        print(f"  vidsync diff, every page       {med(paged):7.2f} s   "
              f"ratio {med(p / o for p, o in zip(paged, once, strict=True)):.2f} "
              f"(about {pages} if each page computed it again)")
    finally:
        agent.stop()
        shutil.rmtree(data, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
