from __future__ import annotations

import pytest

from vidsync.settings import Settings, SettingsError


def test_defaults_are_the_embedded_mode() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port, s.progress_bus, s.progress_buffer_size) == (
        "127.0.0.1", 5001, "memory", 10)
    assert s.effective_storage_url.startswith("file://")
    s.check()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VIDSYNC_PORT": "eighty"}, "VIDSYNC_PORT='eighty' is not valid: expected a whole number"),
        ({"VIDSYNC_PORT": "70000"}, "VIDSYNC_PORT='70000' is not valid: expected at most 65535"),
        (
            {"VIDSYNC_PROGRESS_POLL_INTERVAL": "fast"},
            "VIDSYNC_PROGRESS_POLL_INTERVAL='fast' is not valid: expected a whole number",
        ),
        ({"VIDSYNC_SYNCTHING_MANAGED": "maybe"}, "SYNCTHING_MANAGED='maybe'.*true or false"),
        ({"VIDSYNC_HOST": "0.0.0.0"}, "set VIDSYNC_API_KEY"),
        ({"VIDSYNC_PROGRESS_BUFFER_SIZE": "0"}, "VIDSYNC_PROGRESS_BUFFER_SIZE='0'.*at least 1"),
        ({"VIDSYNC_API_KEY": " "}, "VIDSYNC_API_KEY is too short"),
        ({"VIDSYNC_API_KEY": "a"}, "VIDSYNC_API_KEY is too short"),
        ({"VIDSYNC_API_KEY": "  fifteen-chars  "}, "VIDSYNC_API_KEY is too short"),
        ({"VIDSYNC_PROGRESS_BUS": "kafka://127.0.0.1:9092"}, r"'memory' \(one agent\) or redis://"),
        ({"VIDSYNC_PROGRESS_BUS": "redis://127.0.0.1:6379/zero"}, "'zero' is not a number"),
        ({"VIDSYNC_PROGRESS_BUS": "redis:///0"}, "no host"),
        ({"VIDSYNC_AGENT_NAME": "edit bay 2"}, "without spaces"),
        ({"VIDSYNC_SNAPSHOT_NICE": "20"}, "SNAPSHOT_NICE='20' is not valid: expected at most 19"),
    ],
)
def test_bad_settings_say_what_to_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env).check()


def test_off_loopback_with_an_api_key_is_allowed() -> None:
    Settings.from_env({"VIDSYNC_HOST": "0.0.0.0", "VIDSYNC_API_KEY": "k" * 16}).check()


def test_variables_are_read_under_their_documented_names() -> None:
    s = Settings.from_env({
        "VIDSYNC_PROGRESS_POLL_INTERVAL": "250",
        "VIDSYNC_ALLOWED_HOSTS": "studio.local, nas",
        "VIDSYNC_SYNCTHING_MANAGED": "yes",
        "VIDSYNC_PORT": "",  # empty means the default
        "VIDSYNC_API_KEY": "a-secret-key-of-some-length",
    })
    assert s.progress_poll_interval_ms == 250
    assert s.allowed_hosts == ("studio.local", "nas")
    assert s.syncthing_managed is True and s.port == 5001
    assert "a-secret-key" not in repr(s)


def test_from_env_reads_only_the_given_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDSYNC_PORT", "6000")
    assert Settings.from_env({}).port == 5001
    assert Settings.from_env().port == 6000


def test_api_key_is_stripped_and_needs_16_characters() -> None:
    assert Settings.from_env({"VIDSYNC_API_KEY": " sixteen-chars-ok \n"}).api_key == (
        "sixteen-chars-ok")
    with pytest.raises(SettingsError, match="VIDSYNC_API_KEY"):
        Settings(api_key="").check()


def test_resume_interrupted_is_off_unless_asked() -> None:
    assert not Settings.from_env({}).resume_interrupted
    assert Settings.from_env({"VIDSYNC_RESUME_INTERRUPTED": "1"}).resume_interrupted


def test_a_redis_bus_and_an_agent_name_are_accepted() -> None:
    s = Settings.from_env({"VIDSYNC_PROGRESS_BUS": "redis://127.0.0.1:6379/0",
                           "VIDSYNC_AGENT_NAME": "edit-bay-2"})
    s.check()
    assert (s.progress_bus, s.agent_name) == ("redis://127.0.0.1:6379/0", "edit-bay-2")
