"""Benchmark: diff of two 100,000-entry manifests, against reading them.

    .venv/bin/python bench/bench_diff.py [--entries 100000] [--changes 5000]

Builds two manifests in memory-light streams (the second with added, removed,
resized and touched entries), then prints, from one run: the time to read
(decompress and parse) both manifests — the floor any diff has to pay — the
time of the full diff, and their ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from vidsync.models import ManifestEntry
from vidsync.snapshot.diff import diff_entries
from vidsync.snapshot.manifest import EntrySpool, ManifestHeader, read_manifest_raw, write_manifest


def entries(n: int, changes: int, second: bool) -> Iterator[ManifestEntry]:
    step = max(1, n // changes) if changes else 0
    for i in range(n):
        folder, name = divmod(i, 1000)
        if name == 0:
            yield ManifestEntry(f"d{folder:04d}", 0, True, 1_700_000_000_000_000_000)
        if second and step and i % step == 0:
            kind = (i // step) % 4
            if kind == 0:
                continue  # removed
            if kind == 1:
                yield ManifestEntry(f"d{folder:04d}/new{i:07d}.mov", 5, False, 0)  # added
            size = 100 + (i % 7) + (50 if kind == 2 else 0)  # resized
            mtime = 1_700_000_000_000_000_000 + i + (10**9 if kind == 3 else 0)  # touched
            yield ManifestEntry(f"d{folder:04d}/clip{i:07d}.mov", size, False, mtime)
            continue
        yield ManifestEntry(
            f"d{folder:04d}/clip{i:07d}.mov", 100 + (i % 7), False, 1_700_000_000_000_000_000 + i
        )


def build(path: Path, work: Path, n: int, changes: int, second: bool) -> Path:
    spool = EntrySpool(work / f"spool-{second}.jsonl")
    for e in entries(n, changes, second):
        spool.add(e)
    header = ManifestHeader("proj", f"snap-{int(second)}", 0.0, spool.file_count,
                            spool.directory_count, spool.total_bytes, 0)
    write_manifest(spool, header, path, lambda n: None, lambda: None)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        a = build(work / "a.json.gz", work, args.entries, args.changes, False)
        b = build(work / "b.json.gz", work, args.entries, args.changes, True)

        start = time.perf_counter()
        for path in (a, b):
            with open(path, "rb") as f:
                _, it = read_manifest_raw(f)
                for _ in it:
                    pass
        t_read = time.perf_counter() - start

        start = time.perf_counter()
        with open(a, "rb") as fa, open(b, "rb") as fb:
            result = diff_entries(read_manifest_raw(fa)[1], read_manifest_raw(fb)[1])
        t_diff = time.perf_counter() - start

        print(f"manifests: {args.entries:,} entries each, {len(result.changes):,} changes "
              f"({result.counts})")
        print(f"read both   {t_read:6.3f} s")
        print(f"diff        {t_diff:6.3f} s")
        print(f"ratio diff/read = {t_diff / t_read:.2f}  (1.0 = the diff costs nothing "
              "beyond reading)")


if __name__ == "__main__":
    main()
