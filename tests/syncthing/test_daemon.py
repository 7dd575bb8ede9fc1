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


def test_an_early_exit_is_reported_with_syncthing_log(tmp_path: Path) -> None:
    daemon = SyncthingDaemon(tmp_path / "home", start_timeout=20)
    daemon.start()
    daemon.stop()
    # A configuration Syncthing refuses makes it exit at once, and says why in its log.
    config = tmp_path / "home" / "config.xml"
    newer = config.read_text().replace('<configuration version="', '<configuration version="9')
    config.write_text(newer)  # "from a newer version": Syncthing refuses it
    with pytest.raises(SyncthingStartError, match="exited at start") as info:
        daemon.start()
    assert str(daemon.log_path) in str(info.value)
    assert not daemon.running


def test_a_damaged_configuration_is_a_clear_error(tmp_path: Path) -> None:
    daemon = SyncthingDaemon(tmp_path / "home", start_timeout=20)
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "config.xml").write_text("<configuration version=")
    with pytest.raises(SyncthingStartError, match="is damaged"):
        daemon.start()


def test_a_syncthing_left_by_a_killed_agent_is_replaced(tmp_path: Path) -> None:
    orphan = SyncthingDaemon(tmp_path / "home", start_timeout=20)
    orphan.start()
    process = orphan._process
    assert process is not None
    # The agent died without stopping it; the next agent starts on the same home.
    fresh = SyncthingDaemon(tmp_path / "home", start_timeout=20)
    try:
        fresh.start()
        assert process.wait(10) is not None  # the orphan was stopped
        assert httpx.get(f"{fresh.url}/rest/system/ping",
                         headers={"X-API-Key": fresh.api_key}).status_code == 200
    finally:
        fresh.stop()


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
