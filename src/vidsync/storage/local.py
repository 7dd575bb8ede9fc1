"""The local store: manifests as files under a directory (``file://`` URLs)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from vidsync.cancel import CancelToken
from vidsync.storage.base import ManifestNotFound, RetryCallback, StorageError

_CHUNK = 1 << 20


class LocalStore:
    def __init__(self, root: Path, *, throttle: float = 0.0) -> None:
        self.root = root.resolve()
        self._throttle = throttle

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise StorageError(f"key {key!r} points outside the store")
        return path

    def _from_url(self, url: str) -> Path:
        parsed = urlparse(url)
        if parsed.scheme != "file":
            raise StorageError(f"{url} is not a file:// URL of this store")
        path = Path(unquote(parsed.path)).resolve()
        if not path.is_relative_to(self.root):
            raise StorageError(f"{url} is outside the store {self.root}")
        return path

    def put(
        self,
        key: str,
        source: Path,
        on_progress: Callable[[int], None],
        cancel: CancelToken,
        on_retry: RetryCallback | None = None,
    ) -> str:
        target = self._path(key)
        partial = target.with_name(target.name + ".part")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(source, "rb") as src, open(partial, "wb") as dst:
                while chunk := src.read(_CHUNK):
                    cancel.check()
                    dst.write(chunk)
                    on_progress(len(chunk))
                    if self._throttle:
                        cancel.wait(self._throttle)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(partial, target)
            _fsync_dir(target.parent)  # the rename too must survive a crash before "completed"
        except OSError as exc:
            raise StorageError(f"cannot write {target}: {exc.strerror or exc}") from exc
        finally:
            # Any error here (the folder is not there, or is a file) must not hide
            # the StorageError above.
            with contextlib.suppress(OSError):
                partial.unlink()
        return target.as_uri()

    def url_for(self, key: str) -> str:
        return self._path(key).as_uri()

    def open(self, url: str) -> BinaryIO:
        path = self._from_url(url)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise ManifestNotFound(f"manifest {url} is missing from the store") from None

    def delete(self, url: str) -> None:
        path = self._from_url(url)
        # The .part too: a kill mid-copy leaves it, and recovery deletes by URL.
        for leftover in (path, path.with_name(path.name + ".part")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
