"""The S3 store: manifests in an S3-compatible bucket (``s3://bucket/prefix`` URLs).

Uploads use boto3's low-level calls (put_object, or create / upload_part /
complete_multipart_upload) rather than its transfer manager, so progress counts
only bytes the server acknowledged and retries follow our own policy: retryable
errors only, ``max_retries`` retries per request after 1 s, 2 s, 4 s (+ jitter),
each one announced through ``on_retry``. boto3's own retries are switched off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import queue
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import urlparse

# boto3 ships no type information; pyproject has no override for it (yet).
import boto3  # type: ignore[import-untyped]
import botocore.config  # type: ignore[import-untyped]
import botocore.exceptions  # type: ignore[import-untyped]

from vidsync.cancel import CancelToken, SnapshotCancelled
from vidsync.storage.base import ManifestNotFound, RetryCallback, StorageError, UploadRetry

T = TypeVar("T")

MIN_PART_SIZE = 5 << 20  # S3 (and radosgw) refuse smaller parts, except the last
MAX_PARTS = 10_000

# Error codes worth another try even though their HTTP status is 4xx.
_RETRYABLE_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
    }
)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")`` (prefix may be "")."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StorageError(f"{url!r} is not an s3://bucket/prefix URL")
    return parsed.netloc, parsed.path.strip("/")


def is_retryable(exc: BaseException) -> bool:
    """Connection errors, timeouts, 5xx and throttling; never 403, 404 or other 4xx."""
    if isinstance(exc, botocore.exceptions.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return status >= 500 or status == 429 or code in _RETRYABLE_CODES
    return isinstance(
        exc,
        (
            botocore.exceptions.ConnectionError,  # refused, connect timeout, DNS
            botocore.exceptions.HTTPClientError,  # closed mid-request, read timeout
        ),
    )


def _code(exc: BaseException | None) -> str | None:
    """The S3 error code of a ClientError, else None."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return None


def describe(exc: BaseException) -> str:
    """A short, user-facing reason for a failed request."""
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = err.get("Code") or "error"
        text = f"HTTP {status} {code}" if status else str(code)
        if err.get("Message"):
            text += f": {err['Message']}"
        if status == 403:
            text += " (check the S3 credentials and the bucket policy)"
        return text
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    return str(exc) or type(exc).__name__


@dataclass
class _Retry:
    """Retry policy shared by the upload's threads; ``stop`` ends waits at once."""

    max_retries: int
    base_delay: float
    jitter: float
    sleep: Callable[[float], None] | None
    rand: Callable[[], float]
    stop: threading.Event
    announce: RetryCallback

    def call(self, what: str, fn: Callable[[], T]) -> T:
        retry = 0
        while True:
            try:
                result = fn()
            except Exception as exc:
                if not is_retryable(exc) or retry >= self.max_retries or self.stop.is_set():
                    if retry and is_retryable(exc):
                        raise StorageError(
                            f"{what} failed after {retry + 1} attempts: {describe(exc)}"
                        ) from exc
                    raise StorageError(f"{what} failed: {describe(exc)}") from exc
                retry += 1
                nominal = self.base_delay * 2 ** (retry - 1)
                self.announce(UploadRetry(retry, self.max_retries, nominal))
                delay = nominal + self.jitter * self.rand()
                if self.sleep is not None:
                    self.sleep(delay)
                elif self.stop.wait(delay):
                    raise StorageError(f"{what} stopped: the upload is ending") from exc
                continue
            if retry:
                self.announce(None)
            return result


class S3Store:
    """A Store on an S3-compatible bucket; keys live under ``prefix``."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        part_size: int = 8 << 20,
        workers: int = 8,
        max_retries: int = 3,
        base_delay: float = 1.0,
        jitter: float = 0.5,
        sleep: Callable[[float], None] | None = None,
        rand: Callable[[], float] = random.random,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> None:
        """``sleep``: backoff sleep for tests (default: a wait that cancel interrupts)."""
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        self.workers = max(1, workers)
        self._retry_args = (max_retries, base_delay, jitter, sleep, rand)
        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key
        )
        region = region or session.region_name or os.environ.get("AWS_REGION") or "us-east-1"
        config = botocore.config.Config(
            # One try per call: the retries are ours, counted and announced.
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=self.workers + 2,
            # Path style works with any endpoint, no wildcard DNS needed.
            s3={"addressing_style": "path"},
            # Checksums only where S3 requires them: S3-compatible servers
            # (radosgw 16) do not all know the newer trailing checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.client: Any = session.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )

    @classmethod
    def from_url(cls, url: str, endpoint_url: str | None = None, **kwargs: Any) -> S3Store:
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix, endpoint_url, **kwargs)

    # -- keys and URLs -----------------------------------------------------------------------

    def object_key(self, key: str) -> str:
        key = key.lstrip("/")
        return f"{self.prefix}/{key}" if self.prefix else key

    def url_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"

    def _split(self, url: str) -> tuple[str, str]:
        bucket, key = parse_s3_url(url)
        if not key:
            raise StorageError(f"{url} names no object")
        return bucket, key

    def _retry(self, stop: threading.Event, announce: RetryCallback) -> _Retry:
        max_retries, base_delay, jitter, sleep, rand = self._retry_args
        return _Retry(max_retries, base_delay, jitter, sleep, rand, stop, announce)

    # -- upload ------------------------------------------------------------------------------

    def put(
        self,
        key: str,
        source: Path,
        on_progress: Callable[[int], None],
        cancel: CancelToken,
        on_retry: RetryCallback | None = None,
    ) -> str:
        url = self.url_for(key)
        try:
            size = source.stat().st_size
        except OSError as exc:
            raise StorageError(f"cannot read {source}: {exc.strerror or exc}") from exc
        upload = _Upload(self, self.object_key(key), source, size, on_progress, cancel, on_retry)
        try:
            if size <= self.part_size:
                upload.single()
            else:
                upload.multipart()
        except StorageError as exc:
            # Notes say what could not be cleaned up: the user should see them too.
            notes = "".join(f"; {note}" for note in getattr(exc, "__notes__", ()))
            raise StorageError(f"upload of {url} failed: {exc}{notes}") from exc.__cause__
        return url

    # -- read and delete ---------------------------------------------------------------------

    def open(self, url: str) -> BinaryIO:
        bucket, key = self._split(url)
        retry = self._retry(threading.Event(), lambda _retry: None)
        try:
            body = retry.call(
                f"reading {url}", lambda: self.client.get_object(Bucket=bucket, Key=key)["Body"]
            )
        except StorageError as exc:
            if _code(exc.__cause__) in _NOT_FOUND_CODES:
                raise ManifestNotFound(f"manifest {url} is missing from the store") from None
            raise
        return io.BufferedReader(_Body(body, url), buffer_size=1 << 20)

    def delete(self, url: str) -> None:
        bucket, key = self._split(url)
        retry = self._retry(threading.Event(), lambda _retry: None)
        # DeleteObject succeeds on a missing key, so "already gone" needs no special case.
        retry.call(f"deleting {url}", lambda: self.client.delete_object(Bucket=bucket, Key=key))


class _Body(io.RawIOBase):
    """A response body as a raw stream whose network errors are StorageErrors."""

    def __init__(self, body: Any, url: str) -> None:
        self._body = body
        self._url = url

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data: bytes = self._body.read(len(buffer))
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise StorageError(f"reading {self._url} failed: {describe(exc)}") from exc
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        super().close()


class _Upload:
    """One put(): its progress and retry messages go out on the caller's thread only."""

    def __init__(
        self,
        store: S3Store,
        key: str,
        source: Path,
        size: int,
        on_progress: Callable[[int], None],
        cancel: CancelToken,
        on_retry: RetryCallback | None,
    ) -> None:
        self.store = store
        self.client = store.client
        self.bucket = store.bucket
        self.key = key
        self.source = source
        self.size = size
        self.on_progress = on_progress
        self.cancel = cancel
        self.on_retry = on_retry
        self.stop = threading.Event()
        # Workers put ("retry", UploadRetry | None) / ("done", (part, etag, size)) / ("error", exc).
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.retry = store._retry(self.stop, self._announce)
        self._caller = threading.get_ident()

    def _announce(self, retry: UploadRetry | None) -> None:
        if threading.get_ident() != self._caller:
            self.events.put(("retry", retry))
        elif self.on_retry is not None:
            self.on_retry(retry)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """A request on the caller's thread, with retries; a cancel ends a retry wait."""
        self.cancel.check()
        try:
            return dataclasses.replace(self.retry, stop=self.cancel.event).call(what, fn)
        except StorageError:
            self.cancel.check()  # the wait was cut short by the user's cancel
            raise

    def single(self) -> None:
        body = self.source.read_bytes()
        try:
            self._call(
                "PUT",
                lambda: self.client.put_object(Bucket=self.bucket, Key=self.key, Body=body),
            )
        except (StorageError, SnapshotCancelled):
            # A try whose answer was lost may still have stored the object.
            with contextlib.suppress(Exception):
                self.client.delete_object(Bucket=self.bucket, Key=self.key)
            raise
        self.on_progress(self.size)

    def multipart(self) -> None:
        part_size = max(self.store.part_size, math.ceil(self.size / MAX_PARTS))
        created = self._call(
            "starting the multipart upload",
            lambda: self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key),
        )
        upload_id: str = created["UploadId"]
        completing = False
        try:
            parts = self._send_parts(upload_id, part_size)
            completing = True
            self._complete(upload_id, parts)
        except BaseException as exc:
            self.stop.set()
            self._abort(upload_id, exc)
            if completing:
                # The complete call may have reached the server before failing:
                # a failed put must leave no object behind.
                with contextlib.suppress(Exception):
                    self.client.delete_object(Bucket=self.bucket, Key=self.key)
            raise

    def _send_parts(self, upload_id: str, part_size: int) -> list[dict[str, Any]]:
        count = math.ceil(self.size / part_size)
        etags: dict[int, str] = {}
        next_part = 1
        in_flight = 0
        with ThreadPoolExecutor(self.store.workers, thread_name_prefix="s3-part") as pool:
            try:
                while len(etags) < count:
                    while in_flight < self.store.workers and next_part <= count:
                        pool.submit(self._part_worker, upload_id, next_part, part_size)
                        next_part += 1
                        in_flight += 1
                    try:
                        kind, value = self.events.get(timeout=0.1)
                    except queue.Empty:
                        self.cancel.check()
                        continue
                    if kind == "retry":
                        if self.on_retry is not None:
                            self.on_retry(value)
                    elif kind == "done":
                        number, etag, nbytes = value
                        in_flight -= 1
                        etags[number] = etag
                        self.on_progress(nbytes)
                    else:
                        raise value
                    self.cancel.check()
            finally:
                # Parts still running end soon (no more retries once stop is set);
                # the pool's exit waits for them, so the abort comes after the last part.
                self.stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
        self.stop.clear()  # every part is in; the complete call gets its retries
        return [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]

    def _part_worker(self, upload_id: str, number: int, part_size: int) -> None:
        try:
            if self.stop.is_set():
                return
            with open(self.source, "rb") as f:
                f.seek((number - 1) * part_size)
                data = f.read(part_size)
            reply = self.retry.call(
                f"part {number}",
                lambda: self.client.upload_part(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                ),
            )
            self.events.put(("done", (number, reply["ETag"], len(data))))
        except OSError as exc:
            self.events.put(("error", StorageError(f"cannot read {self.source}: {exc}")))
        except BaseException as exc:
            self.events.put(("error", exc))

    def _complete(self, upload_id: str, parts: list[dict[str, Any]]) -> None:
        def complete() -> Any:
            return self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )

        try:
            self._call("completing the multipart upload", complete)
        except StorageError as exc:
            # A retried complete whose first try did finish on the server answers
            # NoSuchUpload; the object is then there, whole.
            if self.retry_made_object(exc):
                return
            raise

    def retry_made_object(self, exc: StorageError) -> bool:
        if _code(exc.__cause__) != "NoSuchUpload":
            return False
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key)
        except Exception:
            return False
        return int(head.get("ContentLength", -1)) == self.size

    def _abort(self, upload_id: str, cause: BaseException) -> None:
        # A fresh policy: the upload's own is stopped, but the abort deserves retries.
        retry = self.store._retry(threading.Event(), lambda _msg: None)
        try:
            retry.call(
                "aborting the multipart upload",
                lambda: self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=upload_id
                ),
            )
        except StorageError as exc:
            if _code(exc.__cause__) == "NoSuchUpload":
                return  # already gone
            if isinstance(cause, StorageError | SnapshotCancelled):
                cause.add_note(f"{exc} (the bucket may keep the parts until it expires them)")
