"""Browser tests: Debian's Chromium driven by Playwright, against a real agent process."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from browser.ui import ConsoleWatch, UiAgent
from support.agent import AgentProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def playwright_driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playwright]:
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is not installed: run scripts/setup.sh --test", pytrace=False)
    home = tmp_path_factory.mktemp("chromium-home")
    saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_CACHE_HOME"] = str(home / "cache")
    try:
        with sync_playwright() as driver:
            yield driver
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()


@pytest.fixture
def page(
    browser: Browser, console: ConsoleWatch, agent_factory: Callable[..., AgentProcess]
) -> Iterator[Page]:
    # Depends on agent_factory so the page closes before the agents stop: a page
    # left open would log its failed reconnects as console errors.
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.on("console", console.on_console)
    tab.on("pageerror", console.on_page_error)
    yield tab
    context.close()
    assert console.unexpected() == [], "console errors on the page"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def ui_agent(agent_factory: Callable[..., AgentProcess]) -> UiAgent:
    """An agent for the UI: heartbeat and throttle as the test needs them."""

    def start(**env: str) -> AgentProcess:
        return agent_factory(**env)

    return start
