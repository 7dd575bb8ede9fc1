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
        ({"VIDSYNC_PORT": "eighty"}, "VIDSYNC_PORT='eighty' is not a number"),
        ({"VIDSYNC_HOST": "0.0.0.0"}, "set VIDSYNC_API_KEY"),
        ({"VIDSYNC_PROGRESS_BUS": "kafka://127.0.0.1:9092"}, r"'memory' \(one agent\) or redis://"),
        ({"VIDSYNC_PROGRESS_BUS": "redis://127.0.0.1:6379/zero"}, "'zero' is not a number"),
        ({"VIDSYNC_PROGRESS_BUS": "redis:///0"}, "no host"),
        ({"VIDSYNC_AGENT_NAME": "edit bay 2"}, "without spaces"),
        ({"VIDSYNC_PROGRESS_BUFFER_SIZE": "0"}, "at least 1"),
    ],
)
def test_bad_settings_say_what_to_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env).check()


def test_off_loopback_with_an_api_key_is_allowed() -> None:
    Settings.from_env({"VIDSYNC_HOST": "0.0.0.0", "VIDSYNC_API_KEY": "k"}).check()


def test_a_redis_bus_and_an_agent_name_are_accepted() -> None:
    s = Settings.from_env({"VIDSYNC_PROGRESS_BUS": "redis://127.0.0.1:6379/0",
                           "VIDSYNC_AGENT_NAME": "edit-bay-2"})
    s.check()
    assert (s.progress_bus, s.agent_name) == ("redis://127.0.0.1:6379/0", "edit-bay-2")
