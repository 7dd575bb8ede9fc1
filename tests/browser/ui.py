"""Helpers for the browser tests: a recorder of what the page showed, and page actions."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import ConsoleMessage, Page, Route, expect

from support.agent import AgentProcess

# Installed before the page's own scripts: records every change of the modal's
# state attributes (with their old values, so no intermediate value is lost even
# when several events render in one task), a consistent view of the modal after
# each batch of changes, and each project row's state after each list update.
# Times are the page's own performance.now().
RECORDER = """
(() => {
  const log = { records: [], snaps: [], rows: [] };
  Object.defineProperty(window, "__uiLog", { value: log });
  const text = (root, part) => root.querySelector(`[data-part="${part}"]`).textContent;
  const observer = new MutationObserver((records) => {
    const modal = document.getElementById("progress-modal");
    const list = document.getElementById("project-list");
    if (!modal || !list) return;
    const bar = modal.querySelector("[data-part=bar]");
    const t = performance.now();
    let modalChanged = false;
    let listChanged = false;
    for (const r of records) {
      if (list.contains(r.target)) listChanged = true; // rows update in place
      if (r.type === "childList") continue;
      if (r.target === modal || r.target === bar || r.target.dataset.part === "conn") {
        modalChanged = true;
        const target = r.target === modal ? "modal" : r.target === bar ? "bar" : "conn";
        log.records.push({ target, attr: r.attributeName, old: r.oldValue, t });
      }
    }
    if (modalChanged) {
      log.snaps.push({
        t,
        open: modal.open,
        state: modal.dataset.state,
        step: Number(modal.dataset.stepNumber),
        eventId: Number(modal.dataset.eventId),
        value: Number(bar.getAttribute("aria-valuenow")),
        dots: [...modal.querySelectorAll("[data-part=steps] li")].map((li) => li.dataset.status),
        stepCount: text(modal, "step-count"),
        title: text(modal, "title"),
        conn: modal.querySelector("[data-part=conn]").dataset.conn,
        closeVisible: !modal.querySelector("[data-part=close]").hidden,
        cancelVisible: !modal.querySelector("[data-part=cancel]").hidden,
      });
    }
    if (listChanged) {
      const rows = {};
      for (const row of list.querySelectorAll("[data-project-id]")) {
        const rowBar = row.querySelector("[role=progressbar]");
        rows[row.dataset.projectId] = {
          state: row.dataset.state,
          value: rowBar ? Number(rowBar.getAttribute("aria-valuenow")) : null,
        };
      }
      log.rows.push({ t, rows });
    }
  });
  observer.observe(document, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeOldValue: true,
    attributeFilter: ["data-state", "data-step-number", "data-event-id", "aria-valuenow",
                      "open", "data-conn"],
  });
})();
"""

MODAL = "#progress-modal"
UiAgent = Callable[..., AgentProcess]


class ConsoleWatch:
    """Console errors and uncaught exceptions of a page; tests may allow known
    network failures (the browser logs every failed request as an error)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "assert"):
            self.errors.append(message.text)

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"uncaught: {error}")

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


def modal_attr(page: Page, name: str) -> str | None:
    return page.locator(MODAL).get_attribute(name)


def ui_log(page: Page) -> dict[str, Any]:
    log: dict[str, Any] = page.evaluate("window.__uiLog")
    return log


def attr_history(page: Page, target: str, attr: str) -> list[str]:
    """Every value the attribute took, in order, consecutive repeats folded."""
    log = ui_log(page)
    selector = {"modal": MODAL, "bar": f"{MODAL} [data-part=bar]"}[target]
    current = page.locator(selector).get_attribute(attr)
    values = [r["old"] for r in log["records"] if r["target"] == target and r["attr"] == attr]
    values.append(current)
    folded: list[str] = []
    for v in values:
        if v is not None and (not folded or folded[-1] != v):
            folded.append(v)
    return folded


def open_projects_page(page: Page, agent: AgentProcess, *, live: bool = True) -> None:
    page.add_init_script(RECORDER)
    page.goto(agent.url + "/")
    expect(page).to_have_url(re.compile(r"/ui/$"))
    page.wait_for_selector("body[data-ready=true]")
    if live:
        expect(page.locator("#agent-status")).to_have_attribute("data-conn", "stable")


def fast_retries(page: Page, retry_ms: int) -> None:
    """Scale the reconnect backoff down: the page reads its schedule from /api/v1/config."""

    def handle(route: Route) -> None:
        response = route.fetch()
        config = response.json()
        config["retryMs"] = retry_ms
        jitter = config.get("backoff", {}).get("jitter", 0.2)
        config["backoff"] = {"delaysMs": [retry_ms * n for n in (1, 2, 4, 8, 15, 30)],
                             "jitter": jitter}
        route.fulfill(response=response, json=config)

    page.route("**/api/v1/config", handle)


def create_in_ui(page: Page, name: str, path: Path) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Local folder path").fill(str(path))
    page.get_by_role("button", name="Create Project").click()
    expect(page.locator(MODAL)).to_be_visible()


def create_project(agent: AgentProcess, name: str, path: Path) -> str:
    r = httpx.post(agent.url + "/api/v1/projects", json={"name": name, "localPath": str(path)})
    assert r.status_code == 201, r.text
    project_id: str = r.json()["projectId"]
    return project_id


def row(page: Page, project_id: str) -> Any:
    return page.locator(f'[data-project-id="{project_id}"]')


def wait_modal_state(page: Page, state: str, timeout: float = 30_000) -> None:
    page.wait_for_function(
        "s => document.getElementById('progress-modal').dataset.state === s",
        arg=state,
        timeout=timeout,
    )


def subscribers(agent: AgentProcess) -> int:
    text = httpx.get(agent.url + "/metrics").text
    match = re.search(r"^vidsync_progress_subscribers (\d+)(?:\.0)?$", text, re.M)
    assert match, text
    return int(match.group(1))


def screenshot(page: Page, folder: Path, name: str) -> Path:
    path = folder / name
    page.screenshot(path=str(path), animations="disabled")
    assert path.stat().st_size > 0
    return path
