"""The agent's Syncthing: attach to a running one, or manage a private one.

Attach mode: ``VIDSYNC_SYNCTHING_URL`` and ``VIDSYNC_SYNCTHING_API_KEY``.
Managed mode: ``VIDSYNC_SYNCTHING_MANAGED=1``; the agent runs its own loopback-only
Syncthing under ``data_dir/syncthing``. Attach wins when both are set.
"""

from __future__ import annotations

from pathlib import Path

from vidsync.clock import Clock
from vidsync.settings import Settings
from vidsync.snapshot.syncthing.daemon import SyncthingDaemon
from vidsync.snapshot.syncthing.rest import SyncthingError, SyncthingRest
from vidsync.snapshot.syncthing.source import (
    SyncthingSource,
    register_folder,
    unregister_folder,
)


class SyncthingService:
    """One per agent: ``start()`` in the app's startup, ``stop()`` in its shutdown."""

    def __init__(self, settings: Settings, *, binary: str = "syncthing") -> None:
        self._settings = settings
        self._binary = binary
        self._daemon: SyncthingDaemon | None = None
        self._rest: SyncthingRest | None = None
        if settings.syncthing_url and settings.syncthing_api_key:
            # Creating the client connects nothing; doing it here keeps ``rest`` race-free.
            self._rest = SyncthingRest(settings.syncthing_url, settings.syncthing_api_key)

    @property
    def mode(self) -> str | None:
        """``"attach"``, ``"managed"``, or None when Syncthing is not configured."""
        if self._settings.syncthing_url:
            return "attach"
        if self._settings.syncthing_managed:
            return "managed"
        return None

    def start(self) -> None:
        """Start the managed Syncthing (raises SyncthingStartError with its log).

        In attach mode nothing is contacted here: an unreachable Syncthing fails
        the snapshots and project creations that need it, not the agent.
        """
        if self.mode == "managed" and self._daemon is None:
            daemon = SyncthingDaemon(self._settings.data_dir / "syncthing", binary=self._binary)
            daemon.start()
            self._daemon = daemon
            self._rest = SyncthingRest(daemon.url, daemon.api_key)

    def stop(self) -> None:
        if self._rest is not None:
            self._rest.close()
            self._rest = None
        if self._daemon is not None:
            self._daemon.stop()
            self._daemon = None

    @property
    def rest(self) -> SyncthingRest:
        if self._rest is not None:
            return self._rest
        if self.mode == "attach":
            raise SyncthingError(
                "VIDSYNC_SYNCTHING_API_KEY is not set: copy the API key from Syncthing's "
                "Actions > Settings > General > API Key"
            )
        if self.mode == "managed":
            raise SyncthingError(
                "the managed Syncthing is not running: see the agent's log for why it did not start"
            )
        raise SyncthingError(
            "Syncthing is not configured: set VIDSYNC_SYNCTHING_URL and "
            "VIDSYNC_SYNCTHING_API_KEY to use a running Syncthing, or "
            "VIDSYNC_SYNCTHING_MANAGED=1 to let the agent run its own"
        )

    def register(self, project_id: str, path: Path, label: str | None = None) -> None:
        register_folder(self.rest, project_id, path, label)

    def unregister(self, project_id: str) -> None:
        unregister_folder(self.rest, project_id)

    def source(self, project_id: str, path: Path, clock: Clock | None = None,
               walk_nice: int = 0) -> SyncthingSource:
        return SyncthingSource(
            self.rest, project_id, path, self._settings.syncthing_scan_timeout, clock,
            walk_nice=walk_nice,
        )
