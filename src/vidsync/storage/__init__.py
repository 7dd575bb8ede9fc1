"""Where manifests go: a local directory or S3-compatible object storage."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from vidsync.settings import Settings, SettingsError
from vidsync.storage.base import ManifestNotFound, StorageError, Store

__all__ = ["ManifestNotFound", "StorageError", "Store", "open_store"]


def open_store(settings: Settings) -> Store:
    """The store named by ``VIDSYNC_STORAGE_URL`` (default: a folder in the data dir)."""
    url = settings.effective_storage_url
    parsed = urlparse(url)
    if parsed.scheme == "file":
        from vidsync.storage.local import LocalStore

        return LocalStore(Path(unquote(parsed.path)), throttle=settings.throttle)
    if parsed.scheme == "s3":
        from vidsync.storage.s3 import S3Store

        return S3Store.from_url(url, endpoint_url=settings.s3_endpoint_url)
    raise SettingsError(
        f"VIDSYNC_STORAGE_URL={url!r}: use file:///absolute/path or s3://bucket/prefix"
    )
