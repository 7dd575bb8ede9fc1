"""S3Store against a real S3 server (Ceph radosgw): upload, progress, read back, errors."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from s3.helpers import BUCKET, Calls, StoreFactory, make_file
from s3.proxy import FaultProxy, Request, Status
from vidsync.storage.base import ManifestNotFound, StorageError
from vidsync.storage.s3 import S3Store, parse_s3_url

pytestmark = pytest.mark.s3

MiB = 1 << 20


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://bucket/some/prefix/") == ("bucket", "some/prefix")
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    with pytest.raises(StorageError):
        parse_s3_url("file:///tmp/x")
    with pytest.raises(StorageError):
        parse_s3_url("s3:///prefix")


def test_from_url_builds_keys_under_the_prefix() -> None:
    store = S3Store.from_url("s3://bkt/a/b", endpoint_url="http://127.0.0.1:1")
    assert store.url_for("proj/snap.json.gz") == "s3://bkt/a/b/proj/snap.json.gz"
    bare = S3Store.from_url("s3://bkt", endpoint_url="http://127.0.0.1:1")
    assert bare.url_for("proj/snap.json.gz") == "s3://bkt/proj/snap.json.gz"


def test_multipart_upload_reads_back_with_acknowledged_byte_progress(
    make_store: StoreFactory, proxy: Any, s3: Any, key: str, tmp_path: Path
) -> None:
    data = make_file(tmp_path / "m.json.gz", 21 * MiB + 7)
    # Through a pass-through proxy, which counts the part bytes radosgw has answered 200
    # for: at each progress call the total must not be ahead of that.
    seen: FaultProxy = proxy(lambda _r, _n: None)
    calls = Calls()
    ahead: list[tuple[int, int]] = []

    def on_progress(n: int) -> None:
        calls.progress.append(n)
        if calls.total > seen.acked_part_bytes:
            ahead.append((calls.total, seen.acked_part_bytes))

    store = make_store(seen.url, part_size=5 * MiB, workers=3)
    url = store.put(key, tmp_path / "m.json.gz", on_progress, calls.cancel, calls.retries.append)

    assert url == f"s3://{BUCKET}/snapshots/{key}"
    assert all(n > 0 for n in calls.progress)  # so the running total is monotonic
    assert calls.total == len(data)
    assert len(calls.progress) == 5  # one report per acknowledged part
    assert ahead == []
    assert calls.retries == []
    assert [k for k, _ in seen.kinds()].count("upload_part") == 5
    with store.open(url) as f:
        assert f.read() == data
    head = s3.head_object(Bucket=BUCKET, Key=f"snapshots/{key}")
    assert head["ContentLength"] == len(data)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_small_file_is_one_put(make_store: StoreFactory, key: str, tmp_path: Path) -> None:
    data = make_file(tmp_path / "s.json.gz", 1000)
    calls = Calls()
    url = calls.put(make_store(), key, tmp_path / "s.json.gz")
    assert calls.progress == [1000]
    with make_store().open(url) as f:
        assert f.read() == data


def test_empty_file(make_store: StoreFactory, key: str, tmp_path: Path) -> None:
    (tmp_path / "e").write_bytes(b"")
    calls = Calls()
    url = calls.put(make_store(), key, tmp_path / "e")
    assert calls.total == 0
    with make_store().open(url) as f:
        assert f.read() == b""


def test_open_and_delete(make_store: StoreFactory, key: str, tmp_path: Path) -> None:
    store = make_store()
    make_file(tmp_path / "d", 10)
    url = Calls().put(store, key, tmp_path / "d")
    store.delete(url)
    store.delete(url)  # already gone: no error
    with pytest.raises(ManifestNotFound):
        store.open(url)


def test_missing_bucket_fails_at_once(make_store: StoreFactory, key: str, tmp_path: Path) -> None:
    make_file(tmp_path / "x", 6 * MiB)
    calls = Calls()
    start = time.monotonic()
    with pytest.raises(StorageError, match="NoSuchBucket"):
        calls.put(make_store(bucket="no-such-bucket-here"), key, tmp_path / "x")
    assert time.monotonic() - start < 5
    assert calls.retries == []
    assert calls.progress == []


def test_wrong_credentials_fail_at_once_with_403(
    make_store: StoreFactory, s3: Any, key: str, tmp_path: Path
) -> None:
    make_file(tmp_path / "x", 6 * MiB)
    calls = Calls()
    slept: list[float] = []
    store = make_store(secret_key="wrong" * 8, sleep=slept.append)
    with pytest.raises(StorageError, match="403") as err:
        calls.put(store, key, tmp_path / "x")
    assert "credentials" in str(err.value)
    assert calls.retries == [] and slept == []
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=BUCKET, Key=f"snapshots/{key}")


def test_injected_403_on_a_part_is_not_retried_and_aborts(
    make_store: StoreFactory, proxy: Any, s3: Any, key: str, tmp_path: Path
) -> None:
    def rule(req: Request, n: int) -> Status | None:
        return Status(403, "AccessDenied") if req.kind == "upload_part" and n == 2 else None

    p: FaultProxy = proxy(rule)
    make_file(tmp_path / "x", 12 * MiB)
    calls = Calls()
    slept: list[float] = []
    with pytest.raises(StorageError, match="403 AccessDenied"):
        calls.put(make_store(p.url, workers=1, sleep=slept.append), key, tmp_path / "x")
    assert calls.retries == [] and slept == []
    assert ("abort", 204) in p.kinds()
    assert _uploads(s3, key) == []


def _uploads(s3: Any, key: str) -> list[Any]:
    found: list[Any] = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=f"snapshots/{key}").get(
        "Uploads", []
    )
    return found
