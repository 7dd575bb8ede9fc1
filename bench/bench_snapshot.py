"""Benchmark: `vidsync snapshot` (local store) against `find -printf` on the same tree.

    .venv/bin/python bench/bench_snapshot.py [--files 100000] [--big 1000000] [--runs 5]
        [--entries 5000000] [--keep DIR]

Prints the median of ``--runs`` paired runs (snapshot, find, snapshot, find...;
the ratio is taken pair by pair, so a machine whose speed drifts still gives a
fair ratio) of `vidsync snapshot TREE` against `find TREE -printf '%s %T@ %p\\n'`
on a warm ``--files`` tree (target <= 1.0), wall and CPU time (both count the
walk's worker processes), and the same on the ``--big`` tree. The CLI's start-up
is printed too: the median, over paired runs, of a Python that imports what
`vidsync snapshot` imports minus a bare Python (target <= 0.2 s). Then, with
``--entries N``, the peak memory (max RSS) of
encoding and compressing a manifest of N generated entries in one process, the
steps 3-4 of a snapshot without the disk walk (target <= 64 MiB at 5M).
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

VIDSYNC = [sys.executable, "-m", "vidsync"]


def build_tree(root: Path, files: int, per_dir: int = 1000, size: int = 0) -> Path:
    """Nested folders (100 per parent) of ``per_dir`` files; idempotent."""
    marker = root / f".built-{files}"
    if marker.exists():
        return root
    body = b"x" * size
    for i in range(0, files, per_dir):
        d = root / f"g{i // (per_dir * 100):04d}" / f"d{i // per_dir:05d}"
        d.mkdir(parents=True, exist_ok=True)
        for j in range(i, min(i + per_dir, files)):
            with open(d / f"clip_{j:07d}.mov", "wb") as f:
                if body:
                    f.write(body)
    marker.touch()
    return root


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB) and CPU seconds of one run of ``cmd``."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {err}")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def paired(snap: list[str], find: list[str], env: dict[str, str], runs: int, label: str) -> int:
    """Print medians of ``runs`` paired runs; returns the snapshot's peak RSS (KiB)."""
    run(find)
    run(snap, env)  # warm-up: page cache, .pyc files
    walls, cpus, rss = [], [], 0
    snaps, finds = [], []
    for _ in range(runs):
        t_snap, peak, c_snap = run(snap, env)
        t_find, _, c_find = run(find)
        snaps.append(t_snap)
        finds.append(t_find)
        walls.append(t_snap / t_find)
        cpus.append(c_snap / c_find)
        rss = max(rss, peak)
    med = statistics.median
    print(f"tree: {label}, median of {runs} paired runs")
    print(f"  find -printf      {med(finds):7.3f} s")
    print(f"  vidsync snapshot  {med(snaps):7.3f} s   peak {rss / 1024:.1f} MiB")
    print(f"  ratio snapshot/find: wall {med(walls):.2f} (target <= 1.0), cpu {med(cpus):.2f}")
    return rss


def startup(runs: int) -> None:
    """Median over paired runs of the in-process snapshot's imports, less a bare Python."""
    imports = [sys.executable, "-c", "import vidsync.cli.main, vidsync.cli.snapshot"]
    bare = [sys.executable, "-c", "pass"]
    run(imports)
    run(bare)
    costs, totals = [], []
    for _ in range(runs):
        t_imports = run(imports)[0]
        t_bare = run(bare)[0]
        costs.append(t_imports - t_bare)
        totals.append(t_imports)
    print(f"CLI start-up: imports {statistics.median(costs):.3f} s over a bare Python "
          f"(with it: {statistics.median(totals):.3f} s), median of {runs} paired runs "
          "(target <= 0.2)")


def encode_only(n: int, work: Path) -> None:
    """Steps 3-4 on ``n`` generated entries (run in a child: its max RSS is the figure)."""
    from vidsync.models import ManifestEntry
    from vidsync.snapshot.manifest import EntrySpool, ManifestHeader, write_manifest

    spool = EntrySpool(work / "spool.jsonl")
    t = 1_700_000_000_000_000_000
    for i in range(n):
        folder, name = divmod(i, 1000)
        if name == 0:
            spool.add(ManifestEntry(f"shots/sh{folder:05d}", 0, True, t))
        spool.add(ManifestEntry(f"shots/sh{folder:05d}/sh{folder:05d}_comp.{1001 + name}.exr",
                                12_000_000 + i % 977, False, t + i))
    header = ManifestHeader("p", "s", 0.0, spool.file_count, spool.directory_count,
                            spool.total_bytes, 0)
    write_manifest(spool, header, work / "m.json.gz", lambda n: None, lambda: None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=1_000_000, help="0 to skip")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--entries", type=int, default=5_000_000, help="0 to skip")
    parser.add_argument("--keep", help="build trees here and keep them between runs")
    parser.add_argument("--encode-only", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.encode_only is not None:
        with tempfile.TemporaryDirectory() as tmp:
            encode_only(args.encode_only, Path(tmp))
        return

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vidsync-bench-"))
    try:
        startup(max(args.runs, 5))
        env = {**os.environ, "VIDSYNC_DATA_DIR": str(base / "data")}
        sizes = [(args.files, 100)] + ([(args.big, 0)] if args.big else [])
        for files, size in sizes:
            tree = build_tree(base / f"tree-{files}", files, size=size)
            snap = [*VIDSYNC, "snapshot", str(tree), "--json"]
            find = ["find", str(tree), "-printf", r"%s %T@ %p\n"]
            paired(snap, find, env, args.runs, f"{files:,} files")
        if args.entries:
            _, rss, _ = run([sys.executable, __file__, "--encode-only", str(args.entries)])
            print(f"peak memory, steps 3-4 on {args.entries:,} entries: {rss / 1024:.1f} MiB "
                  "(target <= 64)")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
