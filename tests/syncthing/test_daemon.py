"""The managed Syncthing: private, loopback-only, started and stopped cleanly; and the
service that picks attach or managed mode from the settings."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from support.trees import make_tree
from vidsync.settings import Settings
from vidsync.snapshot.syncthing.daemon import SyncthingDaemon, SyncthingStartError
from vidsync.snapshot.syncthing.rest import SyncthingError, UnknownFolder
from vidsync.snapshot.syncthing.service import SyncthingService

pytestmark = pytest.mark.syncthing


def test_managed_syncthing_makes_no_outside_connection(syncthing: SyncthingDaemon) -> None:
    assert syncthing.url.startswith("http://127.0.0.1:")
    headers = {"X-API-Key": syncthing.api_key}
    options = httpx.get(f"{syncthing.url}/rest/config/options", headers=headers).json()
    assert options["listenAddresses"] == ["tcp://127.0.0.1:0"]
    status = httpx.get(f"{syncthing.url}/rest/system/status", headers=headers).json()
    assert list(status["connectionServiceStatus"]) == ["tcp://127.0.0.1:0"]
    assert not status.get("discoveryEnabled")
    assert status["guiAddressUsed"].startswith("127.0.0.1:")
    for name in (
        "globalAnnounceEnabled",
        "localAnnounceEnabled",
        "relaysEnabled",
        "natEnabled",
        "crashReportingEnabled",
        "startBrowser",
    ):
        assert options[name] is False, name
    assert options["urAccepted"] == -1
    assert options["autoUpgradeIntervalH"] == 0


def test_an_early_exit_is_reported_with_syncthing_log(syncthing: SyncthingDaemon) -> None:
    # A second instance on the same home cannot open the locked database.
    second = SyncthingDaemon(syncthing.home, start_timeout=20)
    with pytest.raises(SyncthingStartError, match="exited at start") as info:
        second.start()
    assert str(second.log_path) in str(info.value)
    assert "another instance of Syncthing" in str(info.value)  # its own log line
    assert not second.running
    assert syncthing.running


def test_service_managed_mode_starts_and_stops_its_own_syncthing(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "project", {"a.mov": b"a"})
    service = SyncthingService(Settings(data_dir=tmp_path / "data", syncthing_managed=True))
    assert service.mode == "managed"
    service.start()
    try:
        assert (tmp_path / "data" / "syncthing" / "config.xml").exists()
        service.register("proj-managed", tree)
        assert service.rest.get_folder("proj-managed")["path"] == str(tree)
        service.unregister("proj-managed")
        with pytest.raises(UnknownFolder):
            service.rest.get_folder("proj-managed")
        url = service.rest.url
    finally:
        service.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/rest/system/ping")


def test_service_attach_mode_uses_the_given_syncthing(
    syncthing: SyncthingDaemon, tmp_path: Path
) -> None:
    settings = Settings(syncthing_url=syncthing.url, syncthing_api_key=syncthing.api_key)
    service = SyncthingService(settings)
    assert service.mode == "attach"
    service.start()  # contacts nothing
    try:
        service.rest.ping()
        source = service.source("proj-attach", tmp_path)
        assert source.scan_timeout == settings.syncthing_scan_timeout
    finally:
        service.stop()


def test_service_says_how_to_configure_syncthing(tmp_path: Path) -> None:
    with pytest.raises(SyncthingError, match="VIDSYNC_SYNCTHING_MANAGED=1"):
        _ = SyncthingService(Settings(data_dir=tmp_path)).rest
    attach_without_key = SyncthingService(Settings(syncthing_url="http://127.0.0.1:1"))
    with pytest.raises(SyncthingError, match="VIDSYNC_SYNCTHING_API_KEY is not set"):
        _ = attach_without_key.rest
