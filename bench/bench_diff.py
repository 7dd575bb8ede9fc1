"""Benchmark: diff of two manifests, against reading them; time and peak memory.

    .venv/bin/python bench/bench_diff.py [--files 1000000] [--changes 5000] [--runs 3]

Builds two manifests (the second with added, removed, resized, touched and
moved entries), then runs, each in a fresh process so peak memory (max RSS) is
its own: reading (decompressing and parsing) both manifests, the floor any
diff has to pay, and the full diff (moves and sequences on). Prints the median
times of ``--runs`` paired runs, their ratio (target <= 1.5) and the peak
memory of the diff (target <= 128 MiB).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from vidsync.models import ManifestEntry
from vidsync.snapshot.diff import diff_entries
from vidsync.snapshot.manifest import EntrySpool, ManifestHeader, read_manifest_raw, write_manifest

T = 1_700_000_000_000_000_000


def folder_entries(folder: int, first: int, last: int, changes: int, n: int,
                   second: bool) -> list[ManifestEntry]:
    step = max(1, n // changes) if changes else 0
    name = f"d{folder:04d}"
    out = []
    for i in range(first, last):
        clip = ManifestEntry(f"{name}/clip{i:07d}.mov", 100 + (i % 7), False, T + i)
        if second and step and i % step == 0:
            kind = (i // step) % 5
            if kind == 0:
                continue  # removed
            if kind == 1:
                out.append(ManifestEntry(f"{name}/new{i:07d}.mov", 5, False, 0))  # added
            elif kind == 2:
                clip = ManifestEntry(clip.path, clip.size + 50, False, clip.mod_time_ns)
            elif kind == 3:
                clip = ManifestEntry(clip.path, clip.size, False, clip.mod_time_ns + 10**9)
            else:  # renamed in place: same size and time, a new name
                clip = ManifestEntry(f"{name}/take{i:07d}.mov", clip.size, False,
                                     clip.mod_time_ns)
        out.append(clip)
    return sorted(out, key=lambda e: e.path)  # the walk's order


def entries(n: int, changes: int, second: bool) -> Iterator[ManifestEntry]:
    for folder, first in enumerate(range(0, n, 1000)):
        yield ManifestEntry(f"d{folder:04d}", 0, True, T)
        yield from folder_entries(folder, first, min(n, first + 1000), changes, n, second)


def build(path: Path, work: Path, n: int, changes: int, second: bool) -> Path:
    spool = EntrySpool(work / f"spool-{second}.jsonl")
    for e in entries(n, changes, second):
        spool.add(e)
    header = ManifestHeader("proj", f"snap-{int(second)}", 0.0, spool.file_count,
                            spool.directory_count, spool.total_bytes, 0)
    write_manifest(spool, header, path, lambda n: None, lambda: None)
    os.unlink(spool.path)
    return path


def phase(kind: str, a: str, b: str) -> None:
    """One measured run (in a child process): prints seconds and a summary."""
    start = time.perf_counter()
    with open(a, "rb") as fa, open(b, "rb") as fb:
        ea, eb = read_manifest_raw(fa)[1], read_manifest_raw(fb)[1]
        if kind == "read":
            n = sum(1 for _ in ea) + sum(1 for _ in eb)
            summary = f"{n} entries"
        else:
            result = diff_entries(ea, eb, moves=True, sequences=True)
            summary = f"{len(result.changes)} changes {result.counts}"
    print(f"{time.perf_counter() - start:.6f} {summary}")


def run(kind: str, a: Path, b: Path) -> tuple[float, int, str]:
    """Seconds, peak RSS (KiB) and summary of one child run."""
    proc = subprocess.Popen([sys.executable, __file__, "--phase", kind, str(a), str(b)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{kind} run failed")
    seconds, _, summary = out.strip().partition(" ")
    return float(seconds), usage.ru_maxrss, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", "--entries", dest="files", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phase", nargs=3, metavar=("KIND", "A", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(*args.phase)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        a = build(work / "a.json.gz", work, args.files, args.changes, False)
        b = build(work / "b.json.gz", work, args.files, args.changes, True)
        reads, diffs, rss_read, rss_diff, summary = [], [], 0, 0, ""
        for _ in range(args.runs):  # paired: read then diff, same conditions
            t, rss, _ = run("read", a, b)
            reads.append(t)
            rss_read = max(rss_read, rss)
            t, rss, summary = run("diff", a, b)
            diffs.append(t)
            rss_diff = max(rss_diff, rss)
        t_read, t_diff = statistics.median(reads), statistics.median(diffs)
        print(f"manifests: {args.files:,} files each; diff: {summary}")
        runs = f"(median of {args.runs})"
        print(f"read both   {t_read:7.3f} s  {runs}  peak {rss_read / 1024:6.1f} MiB")
        print(f"diff        {t_diff:7.3f} s  {runs}  peak {rss_diff / 1024:6.1f} MiB")
        print(f"ratio diff/read = {t_diff / t_read:.2f}  (target <= 1.5)")
        print(f"diff peak memory = {rss_diff / 1024:.1f} MiB  (target <= 128)")


if __name__ == "__main__":
    main()
