"""Retries and honest failure: faults injected by a proxy in front of real radosgw."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from s3.helpers import BUCKET, Calls, StoreFactory, make_file
from s3.proxy import Drop, Fault, FaultProxy, Kill, Request, Status
from vidsync.snapshot.source import SnapshotCancelled
from vidsync.storage.base import StorageError, UploadRetry

pytestmark = pytest.mark.s3

MiB = 1 << 20
ProxyFactory = Any


def _no_object(s3: Any, key: str) -> bool:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"snapshots/{key}")
    return int(listed.get("KeyCount", 0)) == 0


def _uploads(s3: Any, key: str) -> list[Any]:
    found: list[Any] = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=f"snapshots/{key}").get(
        "Uploads", []
    )
    return found


def test_503_twice_is_retried_with_visible_messages_and_succeeds(
    make_store: StoreFactory, proxy: ProxyFactory, key: str, tmp_path: Path
) -> None:
    def rule(req: Request, n: int) -> Fault | None:
        return Status(503, "SlowDown") if req.kind == "upload_part" and n <= 2 else None

    p: FaultProxy = proxy(rule)
    data = make_file(tmp_path / "m", 11 * MiB)
    slept: list[float] = []
    calls = Calls()
    # Default policy (1 s, 2 s, 4 s + up to 0.5 s jitter) with the sleep injected.
    store = make_store(p.url, workers=1, sleep=slept.append, rand=lambda: 0.5)
    url = calls.put(store, key, tmp_path / "m")

    assert calls.retries == [
        "Upload failed, retrying in 1 s (attempt 1 of 3)",
        "Upload failed, retrying in 2 s (attempt 2 of 3)",
        "Uploading snapshot to cloud...",
    ]
    # The same facts as fields, for clients that must not parse the message.
    assert calls.notices == [UploadRetry(1, 3, 1.0), UploadRetry(2, 3, 2.0), None]
    assert slept == [1.25, 2.25]
    assert calls.total == len(data)
    with store.open(url) as f:
        assert f.read() == data


def test_503_forever_fails_in_bounded_time_and_aborts(
    make_store: StoreFactory, proxy: ProxyFactory, s3: Any, key: str, tmp_path: Path
) -> None:
    def rule(req: Request, n: int) -> Fault | None:
        return Status(503, "ServiceUnavailable") if req.kind == "upload_part" else None

    p: FaultProxy = proxy(rule)
    make_file(tmp_path / "m", 16 * MiB)
    calls = Calls()
    store = make_store(p.url, workers=2, base_delay=0.05, jitter=0.02)  # real sleeps
    start = time.monotonic()
    with pytest.raises(StorageError) as err:
        calls.put(store, key, tmp_path / "m")
    elapsed = time.monotonic() - start

    assert elapsed < 10
    assert "503" in str(err.value) and "after 4 attempts" in str(err.value)
    assert str(err.value).startswith(f"upload of s3://{BUCKET}/snapshots/{key} failed")
    assert calls.total == 0
    assert "Upload failed, retrying in 0.2 s (attempt 3 of 3)" in calls.retries
    assert ("abort", 204) in p.kinds()
    assert ("complete", 200) not in p.kinds()
    assert _uploads(s3, key) == []
    assert _no_object(s3, key)


def test_dropped_connection_is_retried(
    make_store: StoreFactory, proxy: ProxyFactory, key: str, tmp_path: Path
) -> None:
    def rule(req: Request, n: int) -> Fault | None:
        return Drop() if req.kind == "upload_part" and n == 1 else None

    p: FaultProxy = proxy(rule)
    data = make_file(tmp_path / "m", 11 * MiB)
    slept: list[float] = []
    calls = Calls()
    store = make_store(p.url, workers=1, sleep=slept.append, rand=lambda: 0.0)
    url = calls.put(store, key, tmp_path / "m")

    assert calls.retries[0] == "Upload failed, retrying in 1 s (attempt 1 of 3)"
    assert slept == [1.0]
    assert calls.total == len(data)
    with store.open(url) as f:
        assert f.read() == data


@pytest.mark.parametrize("second_answer", ["radosgw", "NoSuchUpload"])
def test_complete_whose_answer_is_lost_still_succeeds_once(
    make_store: StoreFactory, proxy: ProxyFactory, key: str, tmp_path: Path, second_answer: str
) -> None:
    # The server completes the upload but the answer never arrives. radosgw answers
    # the retried complete 200 again; AWS answers NoSuchUpload (injected here), and
    # the store must then see that the object is there, whole.
    def rule(req: Request, n: int) -> Fault | None:
        if req.kind != "complete":
            return None
        if n == 1:
            return Drop(after_forward=True)
        return Status(404, "NoSuchUpload") if second_answer == "NoSuchUpload" else None

    p: FaultProxy = proxy(rule)
    data = make_file(tmp_path / "m", 11 * MiB)
    calls = Calls()
    url = calls.put(make_store(p.url, sleep=lambda _s: None), key, tmp_path / "m")
    second = 404 if second_answer == "NoSuchUpload" else 200
    assert [s for s in p.kinds() if s[0] == "complete"] == [
        ("complete", None),
        ("complete", second),
    ]
    assert calls.total == len(data)
    with make_store().open(url) as f:
        assert f.read() == data


def test_failed_complete_leaves_no_object(
    make_store: StoreFactory, proxy: ProxyFactory, s3: Any, key: str, tmp_path: Path
) -> None:
    # The first complete reaches the server, its answer is lost, and every retry
    # fails: put fails, so the object the server did make must be gone.
    def rule(req: Request, n: int) -> Fault | None:
        if req.kind != "complete":
            return None
        return Drop(after_forward=True) if n == 1 else Status(503, "ServiceUnavailable")

    p: FaultProxy = proxy(rule)
    make_file(tmp_path / "m", 11 * MiB)
    with pytest.raises(StorageError, match="completing the multipart upload failed"):
        Calls().put(make_store(p.url, sleep=lambda _s: None), key, tmp_path / "m")
    assert _no_object(s3, key)
    assert _uploads(s3, key) == []


def test_server_killed_mid_upload_fails_clearly(
    make_store: StoreFactory, proxy: ProxyFactory, s3: Any, key: str, tmp_path: Path
) -> None:
    def rule(req: Request, n: int) -> Fault | None:
        return Kill() if req.kind == "upload_part" and n == 3 else None

    p: FaultProxy = proxy(rule)
    size = 31 * MiB
    make_file(tmp_path / "m", size)
    calls = Calls()
    store = make_store(p.url, workers=1, base_delay=0.05, jitter=0.0, connect_timeout=1.0)
    start = time.monotonic()
    with pytest.raises(StorageError) as err:
        calls.put(store, key, tmp_path / "m")

    assert time.monotonic() - start < 15
    message = str(err.value)
    assert "part 3 failed after 4 attempts" in message
    assert "connect" in message.lower()
    assert calls.total == 10 * MiB  # the two parts the server acknowledged, no more
    assert _no_object(s3, key)
    # The dead server could not take the abort; the parts wait for the bucket's
    # lifecycle rule. Tidy them here so later tests see a clean bucket.
    for upload in _uploads(s3, key):
        s3.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])


def test_cancel_mid_upload_aborts(
    make_store: StoreFactory, proxy: ProxyFactory, s3: Any, key: str, tmp_path: Path
) -> None:
    p: FaultProxy = proxy(lambda _r, _n: None)
    make_file(tmp_path / "m", 26 * MiB)
    calls = Calls()

    def on_progress(n: int) -> None:
        calls.progress.append(n)
        calls.cancel.cancel()

    store = make_store(p.url, workers=1)
    with pytest.raises(SnapshotCancelled):
        store.put(key, tmp_path / "m", on_progress, calls.cancel, calls.retries.append)
    assert ("abort", 204) in p.kinds()
    assert [k for k, _ in p.kinds()].count("upload_part") < 6
    assert _uploads(s3, key) == []
    assert _no_object(s3, key)


@pytest.mark.parametrize(
    ("size", "faulted"),
    [
        (11 * MiB, "upload_part"),  # multipart: parts on worker threads
        (1 * MiB, "put"),  # one PUT on the caller's thread: most manifests
    ],
)
def test_cancel_during_backoff_is_prompt(
    make_store: StoreFactory, proxy: ProxyFactory, s3: Any, key: str, tmp_path: Path,
    size: int, faulted: str,
) -> None:
    def rule(req: Request, n: int) -> Fault | None:
        return Status(503, "SlowDown") if req.kind == faulted else None

    p: FaultProxy = proxy(rule)
    make_file(tmp_path / "m", size)
    calls = Calls()
    retrying = threading.Event()

    def on_retry(retry: UploadRetry | None) -> None:
        calls.on_retry(retry)
        retrying.set()

    # Real backoff of 30 s: only the cancel can end it in time.
    store = make_store(p.url, workers=1, base_delay=30.0)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            store.put(key, tmp_path / "m", calls.progress.append, calls.cancel, on_retry)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert retrying.wait(10)
    start = time.monotonic()
    calls.cancel.cancel()
    worker.join(10)
    assert not worker.is_alive()
    assert time.monotonic() - start < 5
    assert len(outcome) == 1 and isinstance(outcome[0], SnapshotCancelled)
    if faulted == "upload_part":
        assert ("abort", 204) in p.kinds()
    assert _uploads(s3, key) == []
    assert _no_object(s3, key)
