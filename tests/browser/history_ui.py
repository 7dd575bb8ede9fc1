"""Helpers for the project page tests: snapshots through the API, page locators."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from support.agent import AgentProcess, wait_until

PROJECT_VIEW = "#view-project"


def snapshots(agent: AgentProcess, project_id: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{agent.url}/api/v1/projects/{project_id}/snapshots")
    assert r.status_code == 200, r.text
    records: list[dict[str, Any]] = r.json()["snapshots"]
    return records


def start_snapshot(agent: AgentProcess, project_id: str) -> str:
    r = httpx.post(f"{agent.url}/api/v1/projects/{project_id}/snapshot")
    assert r.status_code == 202, r.text
    snapshot_id: str = r.json()["snapshotId"]
    return snapshot_id


def wait_ended(agent: AgentProcess, project_id: str, snapshot_id: str) -> dict[str, Any]:
    """Wait (with a deadline) until the snapshot is no longer running; its record."""
    found: dict[str, Any] = {}

    def ended() -> bool:
        for record in snapshots(agent, project_id):
            if record["snapshotId"] == snapshot_id and record["state"] != "running":
                found.update(record)
                return True
        return False

    wait_until(ended, timeout=30)
    return found


def take_snapshot(agent: AgentProcess, project_id: str) -> dict[str, Any]:
    return wait_ended(agent, project_id, start_snapshot(agent, project_id))


def open_project_page(page: Page, agent: AgentProcess, project_id: str) -> None:
    page.goto(f"{agent.url}/ui/#/projects/{project_id}")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator(PROJECT_VIEW)).to_have_attribute("data-state", "ready")
    expect(page.locator("#agent-status")).to_have_attribute("data-conn", "stable")


def tree_item(page: Page, path: str) -> Locator:
    return page.locator(f'{PROJECT_VIEW} [data-part=tree] li[data-path="{path}"]')


def tree_row(page: Page, path: str) -> Locator:
    return tree_item(page, path).locator(":scope > .tree-row")


def folder_button(page: Page, path: str) -> Locator:
    """The disclosure button of a folder (aria-expanded tells whether it is open)."""
    return tree_row(page, path).get_by_role("button")


def top_level_names(page: Page) -> list[str]:
    names: list[str] = page.locator(
        f"{PROJECT_VIEW} [data-part=tree] > li[data-path] > .tree-row .tree-label"
    ).all_text_contents()
    return names


def history_rows(page: Page) -> Locator:
    return page.locator(f"{PROJECT_VIEW} [data-part=history] tr")


def cell(row: Locator, column: str) -> Locator:
    return row.locator(f"td[data-col={column}]")


DATE = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s?[AP]M$")
# The history says when to the second: "Nov 29, 4:10:23 AM" (the year when not this one).
STAMP = re.compile(r"^[A-Z][a-z]{2} \d{1,2},( \d{4},)? \d{1,2}:\d{2}:\d{2}\s?[AP]M$")
DURATION = re.compile(r"^(< )?\d+(\.\d)? s$|^\d+ min \d+ s$")
