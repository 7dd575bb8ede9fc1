"""Benchmark: S3Store.put against boto3's managed ``upload_file``, same bytes, same server.

    .venv/bin/python bench/bench_s3_upload.py [--mib 128] [--part-mib 8] [--workers 8]

Starts a private Ceph radosgw (tests/s3/ceph.py), writes a file of random
(incompressible, like a gzip manifest) bytes, uploads it once with boto3
``upload_file`` (default transfer settings: 8 MiB parts, 10 threads) and once
with ``S3Store.put``, and prints the throughput ratio put / upload_file
(target >= 0.9). After one unmeasured run of each, the measured runs go
upload_file, put, put, upload_file (ABBA, see below) and each side's mean is used.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from s3.ceph import CephCluster
from vidsync.snapshot.source import CancelToken
from vidsync.storage.s3 import S3Store

BUCKET = "vidsync-bench"
MiB = 1 << 20


def write_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        for _ in range(size // MiB):
            f.write(os.urandom(MiB))
        f.write(os.urandom(size % MiB))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=128, help="file size in MiB (>= 100)")
    parser.add_argument("--part-mib", type=int, default=8)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vidsync-bench-s3-") as tmp:
        root = Path(tmp)
        cluster = CephCluster(root / "ceph", memstore_bytes=max(2 << 30, 4 * args.mib * MiB))
        cluster.start()
        try:
            print(f"ceph radosgw started in {cluster.start_seconds:.1f} s")
            s3 = cluster.create_bucket(BUCKET)
            source = root / "manifest.json.gz"
            size = args.mib * MiB
            write_file(source, size)

            store = S3Store(
                BUCKET,
                "bench",
                cluster.endpoint_url,
                access_key=cluster.access_key,
                secret_key=cluster.secret_key,
                part_size=args.part_mib * MiB,
                workers=args.workers,
            )

            def baseline() -> float:
                start = time.perf_counter()
                s3.upload_file(str(source), BUCKET, "baseline/manifest.json.gz")
                elapsed = time.perf_counter() - start
                s3.delete_object(Bucket=BUCKET, Key="baseline/manifest.json.gz")
                return elapsed

            def put(acked: list[int]) -> float:
                start = time.perf_counter()
                store.put("p/manifest.json.gz", source, acked.append, CancelToken())
                elapsed = time.perf_counter() - start
                assert sum(acked) == size, (sum(acked), size)
                head = s3.head_object(Bucket=BUCKET, Key="bench/p/manifest.json.gz")
                assert head["ContentLength"] == size
                s3.delete_object(Bucket=BUCKET, Key="bench/p/manifest.json.gz")
                return elapsed

            # One unmeasured run of each first: a fresh memstore OSD takes the very
            # first 100 MB faster than later ones. Then the measured runs go in ABBA
            # order, since the server also slows a little with every upload: a plain
            # A-then-B would favour whoever goes first.
            baseline()
            put([])
            acked: list[int] = []
            base_runs = [baseline()]
            ours_runs = [put(acked), put([])]
            base_runs.append(baseline())
        finally:
            cluster.stop()

    mb = size / 1e6
    base_s, ours_s = sum(base_runs) / 2, sum(ours_runs) / 2
    print(f"file: {size / MiB:.0f} MiB, {len(acked)} parts acknowledged")
    print(f"boto3 upload_file: {base_s:.2f} s ({mb / base_s:.0f} MB/s)  runs {_fmt(base_runs)}")
    print(f"S3Store.put:       {ours_s:.2f} s ({mb / ours_s:.0f} MB/s)  runs {_fmt(ours_runs)}")
    print(f"ratio (put throughput / upload_file throughput): {base_s / ours_s:.2f} (target >= 0.9)")


def _fmt(runs: list[float]) -> str:
    return ", ".join(f"{r:.2f} s" for r in runs)


if __name__ == "__main__":
    main()
