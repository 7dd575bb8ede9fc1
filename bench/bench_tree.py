"""Benchmark: one level of the folder tree (files-tree?depth=1) and a search
(files-search) with the manifest's folder index, against reading the manifest
(up to the folder), as before the index.

    .venv/bin/python bench/bench_tree.py [--files 1000000] [--runs 5] [--keep DIR]

Builds two trees on disk of about ``--files`` files: *wide* (folders of 1,000
files, 100 per parent: bench_snapshot.py's tree) and *vfx* (shots/shNNNNN/
{comp,plate}/ with 48 frames each and a notes file), snapshots each with the
parallel walk as the agent does, then times the tree at three places: the top,
a folder in the middle of the first level, and a folder in the middle of the
second level; on the vfx tree, searches too: a rare name, a common one (capped
at 500 matches), a sequence name and a frame number. Each figure is the median
of ``--runs`` paired runs (indexed, full, indexed, full...); the ratio is taken
pair by pair.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_snapshot import build_tree  # bench/ is on the path of a script run from it

from vidsync.snapshot.browse import totals_suffice, tree
from vidsync.snapshot.local import LocalSource
from vidsync.snapshot.manifest import (
    EntrySpool,
    ManifestHeader,
    read_manifest_raw,
    read_manifest_skipping,
    write_manifest,
)
from vidsync.snapshot.search import search, text_may_match
from vidsync.snapshot.source import CancelToken

FRAMES = 48
QUERIES = ["sh01234_", "notes", "plate_v001", "1005"]


class _Quiet:
    def set_message(self, message: str) -> None: ...
    def set_total(self, total: float | None) -> None: ...
    def set_done(self, done: float) -> None: ...
    def advance(self, amount: float = 1) -> None: ...


def build_vfx(root: Path, files: int) -> Path:
    """shots/shNNNNN/{comp,plate}/ of FRAMES frames each, and a notes file; idempotent."""
    marker = root / f".built-{files}"
    if marker.exists():
        return root
    for s in range(files // (2 * FRAMES + 1)):
        shot = root / "shots" / f"sh{s:05d}"
        for kind in ("comp", "plate"):
            (shot / kind).mkdir(parents=True, exist_ok=True)
            for f in range(1001, 1001 + FRAMES):
                (shot / kind / f"sh{s:05d}_{kind}_v001.{f}.exr").touch()
        (shot / "notes.txt").touch()
    marker.touch()
    return root


def snapshot(root: Path, work: Path) -> Path:
    """The manifest the agent's pipeline writes for ``root`` (steps 3 and 4)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    spool = EntrySpool(work / "spool.jsonl")
    assert LocalSource(root).fill_spool(spool, work, _Quiet(), CancelToken())
    header = ManifestHeader("proj", "snap", 0.0, spool.file_count, spool.directory_count,
                            spool.total_bytes, 0)
    out = work / "manifest.json.gz"
    write_manifest(spool, header, out, lambda n: None, lambda: None)
    return out


def level(manifest: Path, root: str, indexed: bool) -> tuple[float, int]:
    """Seconds for ``tree(root, depth=1)`` and how many nodes it has."""
    start = time.perf_counter()
    with open(manifest, "rb") as stream:
        if indexed:
            _, entries = read_manifest_skipping(stream, totals_suffice(root, 1))
        else:
            _, entries = read_manifest_raw(stream)
        nodes = tree(entries, root, 1, True)  # type: ignore[arg-type]
    return time.perf_counter() - start, len(nodes)


def find(manifest: Path, query: str, indexed: bool) -> tuple[float, int]:
    """Seconds for a search of the whole snapshot and how many matches it counts."""
    start = time.perf_counter()
    with open(manifest, "rb") as stream:
        if indexed:
            _, entries = read_manifest_skipping(stream, totals_suffice("", None),
                                                text_may_match(query))
        else:
            _, entries = read_manifest_raw(stream)
        found = search(entries, query, "", 500, True)  # type: ignore[arg-type]
    return time.perf_counter() - start, found.total


def middle(manifest: Path, root: str) -> str:
    """The path of the middle folder among ``root``'s children."""
    with open(manifest, "rb") as stream:
        _, entries = read_manifest_skipping(stream, totals_suffice(root, 1))
        folders = [n["path"] for n in tree(entries, root, 1, False) if n.get("isDirectory")]
    return str(folders[len(folders) // 2])


def paired(runs: int, indexed: Callable[[], tuple[float, int]],
           full: Callable[[], tuple[float, int]]) -> tuple[float, float, float, int]:
    fast, slow, ratios, nodes = [], [], [], 0
    for _ in range(runs):
        t_fast, nodes = indexed()
        t_slow, slow_nodes = full()
        assert nodes == slow_nodes, "the index changed the tree"
        fast.append(t_fast)
        slow.append(t_slow)
        ratios.append(t_fast / t_slow)
    med = statistics.median
    return med(fast), med(slow), med(ratios), nodes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", help="build trees here and keep them between runs")
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vidsync-bench-"))
    try:
        for shape, build in (("wide", build_tree), ("vfx", build_vfx)):
            root = build(base / f"{shape}-{args.files}", args.files)
            manifest = snapshot(root, base / f"work-{shape}")
            first = middle(manifest, "")
            places = {"top": "", "a first-level folder": first,
                      "a second-level folder": middle(manifest, first)}
            size = manifest.stat().st_size
            print(f"tree: {shape}, {args.files:,} files, manifest {size / 2**20:.1f} MiB; "
                  f"median of {args.runs} paired runs")
            cases: list[tuple[str, Callable[[bool], tuple[float, int]], str]] = [
                (f"{label:22} {path or '/':24}",
                 lambda indexed, m=manifest, p=path: level(m, p, indexed), "nodes")
                for label, path in places.items()]
            cases += [(f"search {query!r:39}",
                       lambda indexed, m=manifest, q=query: find(m, q, indexed), "found")
                      for query in (QUERIES if shape == "vfx" else [])]
            for label, measure, unit in cases:
                fast, slow, ratio, count = paired(args.runs, lambda f=measure: f(True),
                                                  lambda f=measure: f(False))
                print(f"  {label} {count:6,} {unit:5}   indexed {fast * 1000:8.1f} ms   "
                      f"full read {slow * 1000:8.1f} ms   ratio {ratio:.3f}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
