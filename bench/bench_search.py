"""Benchmark: searching a snapshot (files-search), against reading its manifest.

    .venv/bin/python bench/bench_search.py [--shots 10000] [--frames 48] [--runs 3]

Builds a VFX-like manifest (shots/shNNNNN/{comp,plate}/ with ``--frames`` frame
files each, and a notes file: ~100 entries a shot, 1M entries at 10,000 shots),
then runs, each in a fresh process so peak memory (max RSS) is its own: reading
the manifest (decompressing and parsing: the floor of any search), the top
level of the tree (what ``files-tree?depth=1`` does) and one search per query:
a common name (capped at 500), a rare one, a sequence name (every folder's
frames grouped) and a frame number (every folder grouped; each sequence
that has the frame matches, once).
Prints medians of ``--runs`` paired runs and their ratio to reading.
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
from vidsync.snapshot.browse import tree
from vidsync.snapshot.manifest import EntrySpool, ManifestHeader, read_manifest_raw, write_manifest
from vidsync.snapshot.search import search

T = 1_700_000_000_000_000_000
QUERIES = ["notes", "sh01234_", "plate_v001", "1005"]


def entries(shots: int, frames: int) -> Iterator[ManifestEntry]:
    yield ManifestEntry("shots", 0, True, T)
    for s in range(shots):
        shot = f"shots/sh{s:05d}"
        yield ManifestEntry(shot, 0, True, T)
        for kind, version in (("comp", "v003"), ("plate", "v001")):
            yield ManifestEntry(f"{shot}/{kind}", 0, True, T)
            for f in range(1001, 1001 + frames):
                name = f"{shot}/{kind}/sh{s:05d}_{kind}_{version}.{f}.exr"
                yield ManifestEntry(name, 1000 + f, False, T + f)
        yield ManifestEntry(f"{shot}/sh{s:05d}_notes.txt", 12, False, T)


def build(path: Path, work: Path, shots: int, frames: int) -> int:
    spool = EntrySpool(work / "spool.jsonl")
    for e in entries(shots, frames):
        spool.add(e)
    header = ManifestHeader("proj", "snap", 0.0, spool.file_count, spool.directory_count,
                            spool.total_bytes, 0)
    write_manifest(spool, header, path, lambda n: None, lambda: None)
    os.unlink(spool.path)
    return spool.file_count + spool.directory_count


def phase(kind: str, manifest: str) -> None:
    """One measured run (in a child process): prints seconds and a summary."""
    start = time.perf_counter()
    with open(manifest, "rb") as f:
        _, rows = read_manifest_raw(f)
        if kind == "read":
            summary = f"{sum(1 for _ in rows)} entries"
        elif kind == "tree":
            summary = f"{len(tree(rows, '', 1, True))} top nodes"
        else:
            found = search(rows, kind.removeprefix("q="), limit=500)
            summary = f"{found.matches} shown, {found.total} matches"
    print(f"{time.perf_counter() - start:.6f} {summary}")


def run(kind: str, manifest: Path) -> tuple[float, int, str]:
    """Seconds, peak RSS (KiB) and summary of one child run."""
    proc = subprocess.Popen([sys.executable, __file__, "--phase", kind, str(manifest)],
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
    parser.add_argument("--shots", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phase", nargs=2, metavar=("KIND", "MANIFEST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(*args.phase)
        return
    kinds = ["read", "tree", *(f"q={q}" for q in QUERIES)]
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "m.json.gz"
        count = build(manifest, Path(tmp), args.shots, args.frames)
        times: dict[str, list[float]] = {k: [] for k in kinds}
        peak: dict[str, int] = dict.fromkeys(kinds, 0)
        summary: dict[str, str] = {}
        for _ in range(args.runs):  # paired: every kind once per round, same conditions
            for kind in kinds:
                t, rss, summary[kind] = run(kind, manifest)
                times[kind].append(t)
                peak[kind] = max(peak[kind], rss)
        print(f"manifest: {count:,} entries ({args.shots:,} shots); "
              f"median of {args.runs} runs; load {os.getloadavg()[0]:.2f}")
        base = statistics.median(times["read"])
        for kind in kinds:
            t = statistics.median(times[kind])
            print(f"{kind:16} {t:7.3f} s  x{t / base:4.2f} of read  "
                  f"peak {peak[kind] / 1024:6.1f} MiB  {summary[kind]}")


if __name__ == "__main__":
    main()
