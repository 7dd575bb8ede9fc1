"""The project page in Debian's Chromium: file tree, history, diff, and batch snapshots
from the projects page. Real agent processes; nothing sleeps for a fixed time."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from browser.history_ui import (
    DATE,
    DURATION,
    PROJECT_VIEW,
    STAMP,
    cell,
    folder_button,
    history_rows,
    open_project_page,
    snapshots,
    start_snapshot,
    take_snapshot,
    top_level_names,
    tree_item,
    tree_row,
)
from browser.ui import (
    ConsoleWatch,
    UiAgent,
    create_project,
    open_projects_page,
    row,
    screenshot,
    subscribers,
    ui_log,
)
from support.trees import make_flat_tree, make_tree

pytestmark = pytest.mark.browser


def test_project_page_tree_and_history_update_live(
    page: Page, ui_agent: UiAgent, tmp_path: Path, artifacts: Path
) -> None:
    agent = ui_agent()
    folder = make_tree(
        tmp_path / "promo",
        {
            "Footage": {"A001.mov": b"a" * 3000, "Day 2": {"B001.mov": b"b" * 500}},
            "Audio": {},
            "edit.prproj": b"e" * 1200,
            "notes.txt": "hello",
        },
    )
    pid = create_project(agent, "Promo", folder)
    # A first snapshot that fails: the manifest cannot be stored.
    blocker = agent.data_dir / "snapshots" / pid
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    failed = take_snapshot(agent, pid)
    assert failed["state"] == "failed" and failed["error"]
    blocker.unlink()

    tree_requests: list[str] = []

    def on_request(request: Request) -> None:
        if "/files-tree" in request.url:
            tree_requests.append(request.url)

    page.on("request", on_request)
    open_projects_page(page, agent)
    row(page, pid).get_by_role("link", name="Promo").click()
    expect(page).to_have_url(re.compile(rf"#/projects/{pid}$"))
    view = page.locator(PROJECT_VIEW)
    expect(view).to_have_attribute("data-state", "ready")
    expect(page.locator("#view-projects")).to_be_hidden()
    expect(view.get_by_role("heading", name="Promo")).to_be_visible()
    expect(view.locator("[data-part=path]")).to_have_text(str(folder))
    assert subscribers(agent) == 1  # the page's one multiplexed stream, nothing more

    # No completed snapshot: a clear empty state; the failed one is in the history.
    expect(view.locator("[data-part=tree-empty]")).to_contain_text("No completed snapshot yet")
    rows = history_rows(page)
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_have_attribute("data-state", "failed")
    expect(cell(rows.nth(0), "state")).to_contain_text("Failed")
    expect(cell(rows.nth(0), "state")).to_contain_text(failed["error"])

    # A snapshot that ends while the page is open: history and tree follow.
    sid = start_snapshot(agent, pid)
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-snapshot-id", sid)
    expect(rows.nth(0)).to_have_attribute("data-state", "completed")
    record = snapshots(agent, pid)[0]
    newest = rows.nth(0)
    expect(cell(newest, "date")).to_have_text(STAMP)
    expect(cell(newest, "state")).to_have_text("Completed")
    expect(cell(newest, "files")).to_have_text(str(record["fileCount"]))
    expect(cell(newest, "size")).to_have_text(record["totalSize"])
    expect(cell(newest, "duration")).to_have_text(DURATION)
    assert record["fileCount"] == 4 and record["totalSize"] == "4.6 KiB"
    expect(cell(rows.nth(1), "size")).to_have_text(failed["totalSize"] or "—")
    expect(view.locator("[data-part=tree-empty]")).to_be_hidden()
    expect(view.locator("[data-part=tree-snapshot]")).to_have_attribute("data-snapshot-id", sid)

    # The top level: folders first, with their totals; files with their sizes.
    assert top_level_names(page) == ["Audio", "Footage", "edit.prproj", "notes.txt"]
    expect(tree_row(page, "Footage").locator("[data-part=size]")).to_have_text("3.4 KiB · 2 files")
    expect(tree_row(page, "Audio").locator("[data-part=size]")).to_have_text("0 B · 0 files")
    expect(tree_row(page, "edit.prproj").locator("[data-part=size]")).to_have_text("1.2 KiB")
    expect(tree_row(page, "notes.txt").locator("[data-part=size]")).to_have_text("5 B")
    expect(tree_row(page, "notes.txt").locator("[data-part=mtime]")).to_have_text(DATE)
    assert all("path=&" in url for url in tree_requests)

    # Expanding loads one level, lazily; collapsing hides it; expanding again reuses it.
    footage = folder_button(page, "Footage")
    expect(footage).to_have_attribute("aria-expanded", "false")
    expect(tree_item(page, "Footage/A001.mov")).to_have_count(0)
    footage.click()
    expect(footage).to_have_attribute("aria-expanded", "true")
    expect(tree_row(page, "Footage/A001.mov").locator("[data-part=size]")).to_have_text("2.9 KiB")
    expect(tree_row(page, "Footage/Day 2").locator("[data-part=size]")).to_have_text(
        "500 B · 1 file")
    expect(tree_item(page, "Footage/Day 2/B001.mov")).to_have_count(0)
    assert sum("path=Footage&" in url for url in tree_requests) == 1
    folder_button(page, "Footage/Day 2").click()
    expect(tree_row(page, "Footage/Day 2/B001.mov").locator("[data-part=size]")).to_have_text(
        "500 B")
    assert sum("path=Footage%2FDay%202&" in url for url in tree_requests) == 1
    screenshot(page, artifacts, "project-page.png")

    footage.click()
    expect(footage).to_have_attribute("aria-expanded", "false")
    expect(tree_item(page, "Footage/A001.mov")).to_be_hidden()
    footage.click()
    expect(tree_item(page, "Footage/A001.mov")).to_be_visible()
    assert sum("path=Footage&" in url for url in tree_requests) == 1
    folder_button(page, "Audio").click()
    expect(tree_item(page, "Audio")).to_contain_text("This folder is empty.")

    # Back to the list.
    view.get_by_role("link", name="All projects").click()
    expect(page.locator("#view-projects")).to_be_visible()
    expect(view).to_be_hidden()
    expect(row(page, pid)).to_have_attribute("data-state", "completed")


def test_diff_view_counts_markers_and_load_more(
    page: Page, ui_agent: UiAgent, tmp_path: Path, artifacts: Path
) -> None:
    agent = ui_agent()
    folder = make_tree(
        tmp_path / "reel",
        {"keep.txt": "same", "gone.txt": "x" * 700, "grow.bin": b"g" * 10, "swap": "a file"},
    )
    pid = create_project(agent, "Reel", folder)
    first = take_snapshot(agent, pid)
    assert first["state"] == "completed"
    # Generated changes: one added, one removed, one resized, a file replaced by a
    # folder, and enough new renders to need a second page.
    (folder / "new.txt").write_text("n" * 100)
    (folder / "gone.txt").unlink()
    (folder / "grow.bin").write_bytes(b"g" * 5000)
    (folder / "swap").unlink()
    make_tree(folder / "swap", {"inner.txt": "i" * 20})
    make_flat_tree(folder / "renders", 210, per_dir=1000, size=1)
    second = take_snapshot(agent, pid)
    assert second["state"] == "completed"
    api = httpx.get(
        f"{agent.url}/api/v1/projects/{pid}/snapshots/{first['snapshotId']}"
        f"/diff/{second['snapshotId']}?limit=1000"
    ).json()

    open_project_page(page, agent, pid)
    rows = history_rows(page)
    expect(rows).to_have_count(2)
    # nothing older to compare with
    expect(rows.nth(1).get_by_role("button", name=re.compile("Compare"))).to_have_count(0)
    rows.nth(0).get_by_role("button", name=re.compile("Compare")).click()
    diff = page.locator(f"{PROJECT_VIEW} [data-part=diff]")
    expect(diff).to_have_attribute("data-state", "ready")
    expect(diff).to_have_attribute("data-from", first["snapshotId"])
    expect(diff).to_have_attribute("data-to", second["snapshotId"])
    expect(rows.nth(0)).to_have_attribute("data-compared", "to")
    expect(rows.nth(1)).to_have_attribute("data-compared", "from")

    # 1 + swap/inner.txt + renders/ + its folder d0000 + 210 renders added
    counts = {"added": 214, "removed": 1, "modified": 1, "typeChanged": 1, "moved": 0}
    assert api["counts"] == counts
    for kind, n in counts.items():
        expect(diff.locator(f"[data-count={kind}] strong")).to_have_text(str(n))
    total_delta = 100 + 20 + 210 - 700 + (5000 - 10) - len("a file")
    assert api["bytes"]["totalDelta"] == total_delta
    expect(diff.locator("[data-part=bytes]")).to_contain_text("+4.5 KiB in total")
    expect(diff.locator("[data-part=bytes]")).to_contain_text("\u2212700 B removed")

    def change(path: str) -> tuple[str, str, str]:
        item = diff.locator(f'li[data-path="{path}"]')
        return (
            item.get_attribute("data-change") or "",
            item.locator(".marker").inner_text(),
            item.locator(".change-detail").inner_text(),
        )

    assert change("new.txt") == ("added", "+", "100 B")
    assert change("gone.txt") == ("removed", "\u2212", "700 B")
    assert change("grow.bin") == ("modified", "M", "10 B → 4.9 KiB")
    expect(diff.locator('li[data-path="keep.txt"]')).to_have_count(0)

    # The first page, then "load more" until every change is listed.
    items = diff.locator("[data-part=list] li")
    expect(items).to_have_count(200)
    more = diff.locator("[data-part=more]")
    expect(more).to_have_text("Load more (200 of 217 shown)")
    page.screenshot(path=str(artifacts / "diff-view.png"), full_page=True, animations="disabled")
    more.click()
    expect(items).to_have_count(217)
    expect(more).to_be_hidden()
    assert change("swap") == ("typeChanged", "T", "file → folder")
    assert change("swap/inner.txt") == ("added", "+", "20 B")
    shown = [(li["path"], li["change"]) for li in items.evaluate_all(
        "els => els.map(e => ({path: e.dataset.path, change: e.dataset.change}))")]
    assert shown == [(c["path"], c["change"]) for c in api["changes"]]

    # Two selectors: the same comparison, picked the other way round, is still older → newer.
    view = page.locator(PROJECT_VIEW)
    view.get_by_label("Older snapshot").select_option(second["snapshotId"])
    view.get_by_label("Newer snapshot").select_option(first["snapshotId"])
    view.get_by_role("button", name="Compare", exact=True).click()
    expect(diff).to_have_attribute("data-from", first["snapshotId"])
    expect(diff.locator("[data-count=added] strong")).to_have_text("214")
    diff.get_by_role("button", name="Close the comparison").click()
    expect(diff).to_be_hidden()
    expect(page.locator(f"{PROJECT_VIEW} tr[data-compared]")).to_have_count(0)


def test_a_snapshot_that_completes_on_the_page_is_compared_with_the_one_before(
    page: Page, ui_agent: UiAgent, tmp_path: Path
) -> None:
    agent = ui_agent()
    root = make_tree(tmp_path / "p", {"a.mov": b"a"})
    pid = create_project(agent, "Live", root)
    first = take_snapshot(agent, pid)
    open_project_page(page, agent, pid)
    (root / "b.mov").write_bytes(b"b")
    second = take_snapshot(agent, pid)
    view = page.locator(PROJECT_VIEW)
    expect(history_rows(page)).to_have_count(2)
    expect(view.get_by_label("Older snapshot")).to_have_value(first["snapshotId"])
    expect(view.get_by_label("Newer snapshot")).to_have_value(second["snapshotId"])
    compare = view.get_by_role("button", name="Compare", exact=True)
    expect(compare).to_be_enabled()
    # A choice the user made stays when yet another snapshot completes.
    view.get_by_label("Newer snapshot").select_option(first["snapshotId"])
    view.get_by_label("Older snapshot").select_option(second["snapshotId"])
    take_snapshot(agent, pid)
    expect(history_rows(page)).to_have_count(3)
    expect(view.get_by_label("Older snapshot")).to_have_value(second["snapshotId"])
    expect(view.get_by_label("Newer snapshot")).to_have_value(first["snapshotId"])


def test_batch_snapshot_of_selected_projects(
    page: Page, ui_agent: UiAgent, tmp_path: Path, artifacts: Path
) -> None:
    agent = ui_agent(VIDSYNC_BATCH_CONCURRENCY="2", VIDSYNC_THROTTLE="0.005")
    ids = [
        create_project(agent, name, make_flat_tree(tmp_path / name, 120, per_dir=40))
        for name in ("One", "Two", "Three")
    ]
    open_projects_page(page, agent)
    button = page.get_by_role("button", name=re.compile("^Snapshot selected"))
    expect(button).to_be_disabled()
    for pid in ids:
        row(page, pid).get_by_role("checkbox").check()
    expect(button).to_have_text("Snapshot selected (3)")
    expect(page.get_by_label("Select all")).to_be_checked()
    with page.expect_response("**/api/v1/snapshots/batch") as answer_info:
        button.click()
    answer = answer_info.value.json()
    assert answer["limit"] == 2 and answer["errors"] == []
    assert len(answer["started"]) == 2 and len(answer["queued"]) == 1
    waiting = answer["queued"][0]["projectId"]

    for pid in ids:
        expect(row(page, pid)).to_have_attribute("data-state", "completed", timeout=30_000)
    for pid in ids:
        (record,) = snapshots(agent, pid)
        assert record["state"] == "completed", record
        expect(row(page, pid)).to_contain_text("120 files")
    expect(row(page, ids[0]).get_by_role("checkbox")).not_to_be_checked()  # cleared after start
    screenshot(page, artifacts, "projects-batch.png")

    # Each row followed its own snapshot. The one over the limit showed itself queued
    # while the other two ran, then ran, then completed.
    seen: dict[str, list[str]] = {pid: [] for pid in ids}
    waited_while_two_ran = False
    for entry in ui_log(page)["rows"]:
        states: dict[str, str] = {
            pid: r["state"] for pid, r in entry["rows"].items() if pid in seen
        }
        for pid, state in states.items():
            if not seen[pid] or seen[pid][-1] != state:
                seen[pid].append(state)
        others = [state for pid, state in states.items() if pid != waiting]
        if states.get(waiting) == "queued" and others.count("running") == 2:
            waited_while_two_ran = True
    assert waited_while_two_ran, seen
    assert seen[waiting][-3:] == ["queued", "running", "completed"], seen
    for history in seen.values():
        assert history[-2:] == ["running", "completed"], seen


def test_missing_project_page_offers_the_way_back(
    page: Page, ui_agent: UiAgent, console: ConsoleWatch
) -> None:
    console.allow(r"status of 404")  # the browser logs the agent's answer for the gone project
    agent = ui_agent()
    page.goto(f"{agent.url}/ui/#/projects/proj-doesnotexist")
    view = page.locator(PROJECT_VIEW)
    expect(view).to_have_attribute("data-state", "missing")
    expect(view.locator("[data-part=error]").first).to_contain_text("does not exist")
    view.get_by_role("link", name="All projects").click()
    expect(page.locator("#view-projects")).to_be_visible()


def test_running_snapshot_is_listed_live_then_completes(
    page: Page, ui_agent: UiAgent, tmp_path: Path, artifacts: Path
) -> None:
    agent = ui_agent(VIDSYNC_THROTTLE="0.01")
    pid = create_project(agent, "Dailies", make_flat_tree(tmp_path / "dailies", 400, per_dir=100))
    open_project_page(page, agent, pid)
    view = page.locator(PROJECT_VIEW)
    expect(view.locator("[data-part=tree-empty]")).to_contain_text("No completed snapshot yet")
    expect(history_rows(page)).to_have_count(0)
    expect(view.locator("[data-part=history-empty]")).to_be_visible()

    view.get_by_role("button", name="Snapshot now").click()
    modal = page.locator("#progress-modal")
    expect(modal).to_be_visible()
    modal.get_by_role("button", name="Run in background").click()
    # While it runs: a "Running" row and the live line; the button reopens the modal.
    rows = history_rows(page)
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_have_attribute("data-state", "running")
    expect(view.locator("[data-part=live]")).to_contain_text("Step")
    screenshot(page, artifacts, "project-page-running.png")
    view.get_by_role("button", name="View progress").click()
    expect(modal).to_be_visible()
    modal.get_by_role("button", name="Run in background").click()
    expect(modal).to_be_hidden()
    # At the end: completed, the tree appears, the button is back.
    expect(rows.nth(0)).to_have_attribute("data-state", "completed", timeout=30_000)
    expect(cell(rows.nth(0), "files")).to_have_text("400")
    expect(view.locator("[data-part=live]")).to_be_hidden()
    expect(view.get_by_role("button", name="Snapshot now")).to_be_visible()
    expect(view.locator("[data-part=tree] > li[data-path]")).to_have_count(4)
    assert top_level_names(page) == ["d0000", "d0001", "d0002", "d0003"]
    expect(tree_row(page, "d0001").locator("[data-part=size]")).to_have_text("1000 B · 100 files")
