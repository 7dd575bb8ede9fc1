"""The web client reports its fallback to polling to the agent's /metrics (real Chromium)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, Route, expect
from prometheus_client.parser import text_string_to_metric_families

from browser.ui import ConsoleWatch, UiAgent, fast_retries, open_projects_page
from support.agent import AgentProcess, wait_until

pytestmark = pytest.mark.browser


def sample(agent: AgentProcess, name: str, **labels: str) -> float:
    text = httpx.get(agent.url + "/metrics").text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return 0.0


def test_page_reports_time_to_polling_and_failed_attempts(
    page: Page, ui_agent: UiAgent, console: ConsoleWatch
) -> None:
    console.allow(r"status of 503")
    agent = ui_agent(VIDSYNC_PROGRESS_POLL_INTERVAL="200")
    attempts: list[str] = []

    def refuse(route: Route) -> None:
        attempts.append(route.request.url)
        route.fulfill(status=503, body="stream unavailable")

    page.route(re.compile(r"/api/v1/progress/stream"), refuse)
    fast_retries(page, 50)
    open_projects_page(page, agent, live=False)
    expect(page.locator("#agent-status")).to_have_attribute("data-conn", "polling")
    wait_until(lambda: sample(agent, "vidsync_client_fallback_seconds_count", client="web") == 1)
    errors = sample(agent, "vidsync_client_sse_errors_total", client="web")
    assert 1 <= errors <= len(attempts)
    seconds = sample(agent, "vidsync_client_fallback_seconds_sum", client="web")
    # the page polls from the first failed attempt (issue 12): no waiting through a backoff
    assert 0 <= seconds < 2
    # the page keeps failing and polling: still one report for this outage
    seen = len(attempts)

    def failed_twice_more() -> bool:
        page.wait_for_timeout(20)  # lets Playwright run the route handler meanwhile
        return len(attempts) >= seen + 2

    wait_until(failed_twice_more, timeout=20)
    assert sample(agent, "vidsync_client_fallback_seconds_count", client="web") == 1
    assert sample(agent, "vidsync_client_sse_errors_total", client="web") == errors


def test_watch_fallback_counts_attempts_and_reports_once_per_outage(
    page: Page, ui_agent: UiAgent
) -> None:
    agent = ui_agent()
    open_projects_page(page, agent)
    reports = page.evaluate(
        """async () => {
          const { watchFallback, reportUrl } = await import("/ui/telemetry.js");
          const client = new EventTarget();
          const posted = [];
          let t = 0;
          watchFallback(client, "/api/v1/progress/stream",
                        { now: () => t, post: (url, bodies) => posted.push({ url, bodies }) });
          const emit = (state, polling, nextAttemptAt) => client.dispatchEvent(
            new CustomEvent("statechange", { detail: { state, polling, nextAttemptAt } }));
          emit("connected", false, null);
          t = 1000; emit("reconnecting", false, 2000);   // lost: attempt 1 scheduled
          t = 2000; emit("reconnecting", false, 4000);   // attempt 1 failed
          t = 4500; emit("reconnecting", true, null);    // attempt 2 failed: polling starts
          emit("reconnecting", true, 9000);
          t = 9000; emit("reconnecting", true, 20000);   // still failing: no new report
          emit("connected", false, null);                // back: the next outage is new
          t = 30000; emit("idle", true, null);
          emit("reconnecting", true, 31000);             // first attempt fails, polls at once
          return { posted, url: reportUrl("/api/v1/progress/stream") };
        }"""
    )
    first, second = reports["posted"]
    assert first["url"] == agent.url + "/api/v1/client-metrics" == reports["url"]
    assert first["bodies"] == [{"kind": "sse-error", "client": "web"}] * 3 + [
        {"kind": "fallback", "client": "web", "seconds": 3.5}
    ]
    assert second["bodies"] == [{"kind": "sse-error", "client": "web"},
                                {"kind": "fallback", "client": "web", "seconds": 0}]
