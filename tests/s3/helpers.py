"""Small helpers shared by the S3 tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vidsync.snapshot.source import CancelToken
from vidsync.storage.base import UPLOADING_MESSAGE, UploadRetry
from vidsync.storage.s3 import S3Store

BUCKET = "vidsync-test"
StoreFactory = Callable[..., S3Store]


def make_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


@dataclass
class Calls:
    """What put() reported: byte counts and retry messages, in order."""

    progress: list[int] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    notices: list[UploadRetry | None] = field(default_factory=list)
    cancel: CancelToken = field(default_factory=CancelToken)

    @property
    def total(self) -> int:
        return sum(self.progress)

    def put(self, store: S3Store, key: str, source: Path) -> str:
        return store.put(key, source, self.progress.append, self.cancel, self.on_retry)

    def on_retry(self, retry: UploadRetry | None) -> None:
        self.notices.append(retry)
        self.retries.append(UPLOADING_MESSAGE if retry is None else retry.message)
