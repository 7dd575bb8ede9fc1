"""Benchmark: `vidsync snapshot` (local store) against `find -printf` on the same tree.

    .venv/bin/python bench/bench_snapshot.py [--files 100000] [--big 1000000] [--keep DIR]

Prints, from one run each: the wall time of `vidsync snapshot TREE` divided by
that of `find TREE -printf '%s %T@ %p\\n'` on a 100,000-file tree (target <= 1.5),
and the peak memory (max RSS) of the snapshot at 100k and at 1M files (target:
no growth with the file count). Both commands run once first to warm the
page cache, so both are measured on a warm tree.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run of ``cmd``, output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {err}")
    return elapsed, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=1_000_000, help="0 to skip")
    parser.add_argument("--keep", help="build trees here and keep them between runs")
    args = parser.parse_args()

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vidsync-bench-"))
    try:
        tree = build_tree(base / f"tree-{args.files}", args.files, size=100)
        env = {**os.environ, "VIDSYNC_DATA_DIR": str(base / "data")}
        snap = [*VIDSYNC, "snapshot", str(tree), "--json"]
        find = ["find", str(tree), "-printf", r"%s %T@ %p\n"]
        run(find)
        run(snap, env)  # warm-up: page cache, .pyc files
        t_find, _ = run(find)
        t_snap, rss_small = run(snap, env)
        print(f"tree: {args.files:,} files")
        print(f"find -printf      {t_find:7.3f} s")
        print(f"vidsync snapshot  {t_snap:7.3f} s")
        print(f"ratio snapshot/find = {t_snap / t_find:.2f}  (target <= 1.5)")
        print(f"peak memory at {args.files:,} files: {rss_small / 1024:.1f} MiB")
        if args.big:
            big = build_tree(base / f"tree-{args.big}", args.big, size=0)
            run([*snap[:-2], str(big), "--json"], env)
            t_big, rss_big = run([*snap[:-2], str(big), "--json"], env)
            print(f"peak memory at {args.big:,} files: {rss_big / 1024:.1f} MiB "
                  f"({t_big:.1f} s)")
            print(f"memory ratio big/small = {rss_big / rss_small:.2f}  (target ~1.0)")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
