"""Syncthing as the folder source: REST client, managed daemon, Source, service."""

from vidsync.snapshot.syncthing.rest import SyncthingError, SyncthingRest
from vidsync.snapshot.syncthing.service import SyncthingService
from vidsync.snapshot.syncthing.source import (
    SyncthingSource,
    register_folder,
    unregister_folder,
)

__all__ = [
    "SyncthingError",
    "SyncthingRest",
    "SyncthingService",
    "SyncthingSource",
    "register_folder",
    "unregister_folder",
]
