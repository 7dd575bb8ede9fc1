"""The tree filter searches the whole snapshot (Chromium, a real agent): a file four
folders down that was never expanded is found, a request for older text is given up
(so the agent stops reading for it), and clearing the filter brings back the lazily
loaded tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from browser.history_ui import (
    PROJECT_VIEW,
    folder_button,
    open_project_page,
    take_snapshot,
    top_level_names,
    tree_item,
    tree_row,
)
from browser.ui import UiAgent, create_project, screenshot
from support.trees import make_flat_tree, make_tree

pytestmark = pytest.mark.browser

DEEP = "editorial/deep/er/still/Final_SH010_cut.mov"


def film(root: Path) -> Path:
    frames = {f"sh010_comp_v003.{n}.exr": b"f" * 10 for n in range(1001, 1011)}
    make_tree(root, {
        "shots": {"sh010": {"comp": frames, "sh010_notes.txt": "n"}},
        "editorial": {"deep": {"er": {"still": {"Final_SH010_cut.mov": b"m" * 7}}}},
        "readme.txt": "r",
    })
    make_flat_tree(root / "renders", 510, per_dir=1000, size=1)  # d0000/f000000.bin ...
    return root


def test_filter_finds_a_deep_file_never_expanded_and_clearing_restores_the_tree(
    page: Page, ui_agent: UiAgent, tmp_path: Path, artifacts: Path
) -> None:
    agent = ui_agent()
    pid = create_project(agent, "Film", film(tmp_path / "film"))
    assert take_snapshot(agent, pid)["state"] == "completed"
    tree_paths: list[str] = []
    page.on("request", lambda r: tree_paths.append(r.url) if "/files-tree" in r.url else None)
    open_project_page(page, agent, pid)
    top = ["editorial", "renders", "shots", "readme.txt"]
    expect(tree_item(page, "renders")).to_be_visible()
    assert top_level_names(page) == top
    status = page.locator(f"{PROJECT_VIEW} [data-part=tree-status]")
    expect(status).to_have_attribute("aria-live", "polite")
    box = page.get_by_label("Filter files by name")

    # The answer for "sh" is held back until the newer "final_sh" has been shown.
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route(lambda url: "/files-search" in url and "q=sh&" in url, hold)
    with page.expect_request(lambda r: "q=sh&" in r.url):
        box.fill("sh")
    # Typing on gives up the request on its way (the agent stops reading for it)...
    with page.expect_event("requestfailed", lambda r: "q=sh&" in r.url):
        box.press_sequentially("x")
    # ...and asks once, for the last text only.
    box.fill("final_sh")
    deep = tree_item(page, DEEP)
    expect(deep).to_be_visible()
    expect(tree_row(page, DEEP).locator(".tree-label mark")).to_have_text("Final_SH")
    expect(status).to_have_text("1 match")
    for folder in ("editorial", "editorial/deep", "editorial/deep/er", "editorial/deep/er/still"):
        expect(folder_button(page, folder)).to_have_attribute("aria-expanded", "true")
    expect(tree_item(page, "shots")).to_have_count(0)
    assert not [u for u in tree_paths if "path=editorial" in u]  # never expanded
    screenshot(page, artifacts, "tree-search.png")

    assert len(held) == 1

    # A sequence is one match, found by its name; the cap and no match say so.
    box.fill("COMP_v003")
    seq = "shots/sh010/comp/sh010_comp_v003.####.exr"
    expect(tree_item(page, seq)).to_be_visible()
    expect(tree_item(page, seq)).to_have_attribute("data-kind", "sequence")
    expect(status).to_have_text("1 match")
    box.fill("f000")
    expect(status).to_have_text("first 500 of 510 matches — refine the search")
    expect(page.locator(f'{PROJECT_VIEW} [data-part=tree] li[data-match]')).to_have_count(500)
    box.fill("zzz")
    expect(status).to_have_text("No file or folder matches 'zzz'")
    expect(page.locator(f"{PROJECT_VIEW} [data-part=no-match]")).to_be_visible()

    # A matching folder opens lazily, with all of its content.
    box.fill("still")
    folder_button(page, "editorial/deep/er/still").click()
    expect(deep).to_be_visible()

    box.fill("")
    expect(status).to_have_text("")
    expect(tree_item(page, DEEP)).to_have_count(0)
    assert top_level_names(page) == top
    expect(folder_button(page, "editorial")).to_have_attribute("aria-expanded", "false")
    folder_button(page, "shots").click()
    expect(tree_item(page, "shots/sh010")).to_be_visible()

