"""The Store protocol: where compressed manifests go and are read back from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from vidsync.cancel import CancelToken
from vidsync.models import UploadRetry

__all__ = ["UPLOADING_MESSAGE", "RetryCallback", "Store", "UploadRetry"]

# Step 5's message; a store puts it back after a retry message once a retry worked.
UPLOADING_MESSAGE = "Uploading snapshot to cloud..."


# Called with an UploadRetry before a retry, and with None once the upload goes on.
RetryCallback = Callable[[UploadRetry | None], None]


class StorageError(Exception):
    """Storing or reading a manifest failed; the message says why."""


class ManifestNotFound(StorageError):
    pass


class Store(Protocol):
    def put(
        self,
        key: str,
        source: Path,
        on_progress: Callable[[int], None],
        cancel: CancelToken,
        on_retry: RetryCallback | None = None,
    ) -> str:
        """Upload the file at ``source`` under ``key``; return its URL.

        ``on_progress(n)`` is called with each number of bytes the storage has
        acknowledged (their sum is the file size on success). ``on_retry(r)``
        is called with an UploadRetry before a retry and with None when the
        upload goes on. Raises StorageError
        on failure and SnapshotCancelled if cancelled; on any failure nothing
        remains stored under ``key``.
        """
        ...

    def url_for(self, key: str) -> str:
        """The URL ``put`` returns for ``key`` (used to clean up after a crash)."""
        ...

    def open(self, url: str) -> BinaryIO:
        """Open a stored manifest for reading (compressed bytes)."""
        ...

    def delete(self, url: str) -> None:
        """Remove a stored manifest; no error if it is already gone."""
        ...
