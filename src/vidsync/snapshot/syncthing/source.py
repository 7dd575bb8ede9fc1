"""Syncthing as the folder source: register a project's folder, snapshot through it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from vidsync.clock import Clock, SystemClock
from vidsync.models import FolderStatus, ManifestEntry
from vidsync.snapshot.local import LocalSource, check_folder, check_root_still_there
from vidsync.snapshot.manifest import EntrySpool
from vidsync.snapshot.skips import SkipKind, SkipLog
from vidsync.snapshot.source import CancelToken, SourceError, StepProgress
from vidsync.snapshot.syncthing.browse import browse_entries
from vidsync.snapshot.syncthing.rest import SyncthingRest, UnknownFolder
from vidsync.snapshot.syncthing.scanwait import folder_error, wait_for_scan

# Syncthing counts every directory and symlink as 128 bytes in localBytes
# (protocol.SyntheticDirectorySize); the manifest counts directories as 0.
_SYNTHETIC_SIZE = 128
# How many of Syncthing's per-file errors step 2 keeps in FolderStatus.extra.
_ERROR_SAMPLE = 20

Listing = Literal["walk", "browse"]


def folder_config(project_id: str, path: Path, label: str | None = None) -> dict[str, Any]:
    """The Syncthing folder for a project: send-only and hands-off.

    ``markerName "."`` keeps Syncthing from writing ``.stfolder`` into the user's
    folder, ``autoNormalize false`` from renaming NFD names on disk; no watcher
    and no periodic rescan, because each snapshot asks for its own scan.
    """
    return {
        "id": project_id,
        "label": label or project_id,
        "path": os.fspath(path),
        "type": "sendonly",
        "markerName": ".",
        "autoNormalize": False,
        "fsWatcherEnabled": False,
        "rescanIntervalS": 0,
        "scanProgressIntervalS": 1,
    }


def register_folder(
    rest: SyncthingRest, project_id: str, path: Path, label: str | None = None
) -> None:
    """Add the project's folder to Syncthing (folder id = project id).

    Idempotent for the same path. Raises SourceError if ``path`` is not an
    existing directory (Syncthing would silently create it) or if the id is
    already used for another path.
    """
    path = Path(os.path.abspath(path))
    check_folder(path)
    try:
        existing = rest.get_folder(project_id)
    except UnknownFolder:
        rest.add_folder(folder_config(project_id, path, label))
        return
    if _same_path(str(existing.get("path", "")), path):
        return
    raise SourceError(
        f'Syncthing already has a folder "{project_id}" at {existing.get("path")}: '
        "use another project id, or remove that folder from Syncthing"
    )


def unregister_folder(rest: SyncthingRest, project_id: str) -> None:
    """Remove the project's folder from Syncthing; files on disk are untouched."""
    rest.delete_folder(project_id)


def _same_path(configured: str, path: Path) -> bool:
    return os.path.realpath(os.path.expanduser(configured)) == os.path.realpath(path)


class SyncthingSource:
    """The Source of a project whose folder Syncthing indexes.

    Step 1 asks Syncthing for a scan and follows it; step 2 reads Syncthing's
    counts; step 3 walks the folder path from Syncthing's config with the local
    source's walk (``listing="walk"``, the default), so the manifest is the
    local source's exactly. ``listing="browse"`` reads ``/rest/db/browse``
    instead (kept for comparison; see the README).
    """

    def __init__(
        self,
        rest: SyncthingRest,
        folder_id: str,
        local_path: Path,
        scan_timeout: float = 120.0,
        clock: Clock | None = None,
        *,
        listing: Listing = "walk",
        walk_nice: int = 0,
    ) -> None:
        self._rest = rest
        self.folder_id = folder_id
        self.local_path = local_path
        self.scan_timeout = scan_timeout
        self._clock = clock or SystemClock()
        self._listing = listing
        self._walk_nice = walk_nice  # the walk workers' added niceness
        self._root: Path | None = None
        self._skips = SkipLog()

    @property
    def skips(self) -> SkipLog:
        return self._skips

    @property
    def skipped(self) -> int:
        return self._skips.total

    def check_root(self) -> None:
        check_root_still_there(self._folder_root())

    def _folder_root(self) -> Path:
        """The folder path from Syncthing's config, checked against the project's."""
        if self._root is None:
            configured = str(self._rest.get_folder(self.folder_id).get("path", ""))
            if not _same_path(configured, self.local_path):
                raise SourceError(
                    f'Syncthing folder "{self.folder_id}" is at {configured}, but the project '
                    f"is at {self.local_path}: point the Syncthing folder back at the project "
                    "folder, or create a new project for the new place"
                )
            self._root = Path(os.path.expanduser(configured))
        return self._root

    def wait_ready(self, progress: StepProgress, cancel: CancelToken) -> None:
        progress.set_message("Waiting for Syncthing scan...")
        root = self._folder_root()
        wait_for_scan(
            self._rest,
            self.folder_id,
            os.fspath(root),
            timeout=self.scan_timeout,
            progress=progress,
            cancel=cancel,
            clock=self._clock,
        )

    def status(self, progress: StepProgress, cancel: CancelToken) -> FolderStatus:
        progress.set_message("Getting folder status from Syncthing...")
        status = self._rest.db_status(self.folder_id)
        if status.get("state") == "error":
            raise folder_error(
                self.folder_id, os.fspath(self._folder_root()), str(status.get("error"))
            )
        files = int(status.get("localFiles", 0))
        symlinks = int(status.get("localSymlinks", 0))
        directories = int(status.get("localDirectories", 0))
        synthetic = _SYNTHETIC_SIZE * (directories + symlinks)
        extra: dict[str, Any] = {
            "syncthingState": status.get("state"),
            "syncthingSequence": status.get("sequence"),
            "syncthingLocalBytes": status.get("localBytes"),
            "unshareableCount": int(status.get("errors", 0)),
        }
        if extra["unshareableCount"]:
            # Files Syncthing refuses to share (e.g. names that are not UTF-8):
            # they are in the manifest, but collaborators will not receive them.
            extra["unshareable"] = self._rest.folder_errors(self.folder_id)[:_ERROR_SAMPLE]
        return FolderStatus(
            file_count=files + symlinks,
            directory_count=directories,
            total_bytes=max(0, int(status.get("localBytes", 0)) - synthetic),
            extra=extra,
        )

    def _checked_root(self) -> Path:
        root = self._folder_root()
        try:
            check_folder(root)
        except SourceError as exc:
            raise SourceError(
                f"{exc}: restore the folder there, or delete this project if it moved"
            ) from None
        return root

    def fill_spool(self, spool: EntrySpool, work: Path, progress: StepProgress,
                   cancel: CancelToken) -> bool:
        """Step 3 with the local source's parallel walk (``listing="walk"``): the
        same manifest as ``entries()``, walked by worker processes. False with
        ``listing="browse"``, whose entries come from Syncthing one by one."""
        if self._listing == "browse":
            return False
        walk = LocalSource(self._checked_root(), nice=self._walk_nice)
        self._skips = walk.skips
        return walk.fill_spool(spool, work, progress, cancel)

    def entries(self, progress: StepProgress, cancel: CancelToken) -> Iterator[ManifestEntry]:
        root = self._checked_root()
        if self._listing == "browse":
            errors = self._rest.folder_errors(self.folder_id)
            self._skips = SkipLog()
            self._skips.extend(SkipKind.UNREADABLE, [str(e.get("path", "")) for e in errors])
            yield from browse_entries(self._rest, self.folder_id, root, progress, cancel)
            return
        walk = LocalSource(root)
        self._skips = walk.skips
        yield from walk.entries(progress, cancel)
