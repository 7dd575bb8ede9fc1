"""The web UI's Team card: another agent's snapshot, live, through the Redis bus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from support.agent import AgentProcess
from support.redisserver import RedisServer
from support.trees import make_flat_tree

pytestmark = pytest.mark.browser


@pytest.fixture
def redis_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def test_team_card_shows_the_other_agents_snapshot_live_with_its_name(
    page: Page, agent_factory: Callable[..., AgentProcess], redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    common = {"VIDSYNC_PROGRESS_BUS": redis_server.url, "VIDSYNC_AGENT_HEARTBEAT": "0.2"}
    alpha = agent_factory(tmp_path / "alpha", VIDSYNC_AGENT_NAME="alpha",
                          VIDSYNC_THROTTLE="0.01", **common)
    beta = agent_factory(tmp_path / "beta", VIDSYNC_AGENT_NAME="beta", **common)
    page.goto(beta.url + "/")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#team-card")).to_be_hidden()
    # beta's reader follows alpha once alpha's heartbeat is in the registry.
    page.wait_for_function("""async () => {
        const r = await fetch('/api/v1/agents');
        return (await r.json()).agents.some((a) => a.name === 'alpha');
    }""")
    tree = make_flat_tree(tmp_path / "tree", 400, per_dir=40)
    r = httpx.post(alpha.url + "/api/v1/projects/with-snapshot",
                   json={"name": "Alpha footage", "localPath": str(tree)})
    pid = r.json()["projectId"]
    row = page.locator(f"#team-list .team-row[data-project='{pid}']")
    expect(row).to_be_visible()
    expect(row.locator(".team-agent")).to_have_text("alpha")
    expect(page.locator("#team-card")).to_be_visible()
    expect(row).to_have_attribute("data-step", "completed", timeout=30_000)
    expect(row.locator(".team-progress")).to_have_text("100%")
    # beta's own list never shows alpha's project.
    expect(page.locator(f"#project-list [data-project-id='{pid}']")).to_have_count(0)
