"""The tree and diff for VFX projects in Chromium: image sequences as one row, moved
folders as one line, full file names, a filter box. Real agent processes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from browser.history_ui import (
    PROJECT_VIEW,
    folder_button,
    open_project_page,
    take_snapshot,
    tree_item,
    tree_row,
)
from browser.ui import UiAgent, create_project, screenshot
from support.trees import make_tree

pytestmark = pytest.mark.browser

LONG = "A001_C002_0314XY_interview_wide_camera_A_take_07_graded_final_v12_approved.mov"


def shot_tree(root: Path) -> Path:
    frames = {f"sh010_comp_v003.{n}.exr": b"f" * 100 for n in range(1001, 1041)
              if n not in (1011, 1012, 1013)}
    return make_tree(root, {"shots": {"sh010": {**frames, "notes.txt": "n"}}, LONG: b"x" * 10})


def test_tree_shows_a_sequence_as_one_row_that_expands_to_its_frames(
    page: Page, ui_agent: UiAgent, tmp_path: Path, artifacts: Path
) -> None:
    agent = ui_agent()
    pid = create_project(agent, "Shots", shot_tree(tmp_path / "shots"))
    assert take_snapshot(agent, pid)["state"] == "completed"
    open_project_page(page, agent, pid)
    folder_button(page, "shots").click()
    folder_button(page, "shots/sh010").click()
    seq_path = "shots/sh010/sh010_comp_v003.####.exr"
    seq = tree_item(page, seq_path)
    expect(seq).to_have_attribute("data-kind", "sequence")
    row = tree_row(page, seq_path)
    expect(row.locator(".tree-label")).to_have_text("sh010_comp_v003.####.exr")
    expect(row.locator("[data-part=frames]")).to_have_text("1001-1040")
    expect(row.locator("[data-part=missing]")).to_have_text("missing 1011-1013")
    expect(row.locator("[data-part=size]")).to_have_text("3.6 KiB · 37 frames")
    # one row for 37 frames, next to the plain file
    expect(page.locator(f'{PROJECT_VIEW} li[data-path^="shots/sh010/"]')).to_have_count(2)
    expect(tree_item(page, "shots/sh010/sh010_comp_v003.1001.exr")).to_have_count(0)
    button = row.get_by_role("button")
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    frames = seq.locator(":scope > ul > li[data-path]")
    expect(frames).to_have_count(37)
    expect(frames.first).to_have_attribute("data-path", "shots/sh010/sh010_comp_v003.1001.exr")
    screenshot(page, artifacts, "tree-sequence.png")


def test_tree_shows_full_names_without_overlap_and_filters_rows(
    page: Page, ui_agent: UiAgent, tmp_path: Path
) -> None:
    agent = ui_agent()
    pid = create_project(agent, "Names", shot_tree(tmp_path / "names"))
    assert take_snapshot(agent, pid)["state"] == "completed"
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        open_project_page(page, agent, pid)
        row = tree_row(page, LONG)
        label = row.locator(".tree-label")
        expect(label).to_have_text(LONG)  # the whole name, not cut with an ellipsis
        fits = label.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        assert fits, f"name cut at {width} px"
        boxes = [row.locator(f"[data-part={p}]").bounding_box() for p in ("size", "mtime")]
        name_box = label.bounding_box()
        assert name_box and all(boxes)
        for box in boxes:
            assert box is not None
            same_line = box["y"] < name_box["y"] + name_box["height"] - 1 and \
                name_box["y"] < box["y"] + box["height"] - 1
            overlap_x = box["x"] < name_box["x"] + name_box["width"] and \
                name_box["x"] < box["x"] + box["width"]
            assert not (same_line and overlap_x), (width, box, name_box)
        size_box, time_box = boxes
        assert size_box is not None and time_box is not None
        assert size_box["x"] + size_box["width"] <= time_box["x"] or \
            size_box["y"] + size_box["height"] <= time_box["y"], (width, size_box, time_box)

    page.set_viewport_size({"width": 1280, "height": 800})
    folder_button(page, "shots").click()
    folder_button(page, "shots/sh010").click()
    expect(tree_item(page, "shots/sh010/notes.txt")).to_be_visible()
    # A sequence's name starts beside its icon, on one line, its frames under it.
    seq = tree_row(page, "shots/sh010/sh010_comp_v003.####.exr")
    icon, label, chips = (seq.locator(c).bounding_box()
                          for c in (".tree-icon", ".tree-label", "[data-part=frames]"))
    assert icon and label and chips
    middle = icon["y"] + icon["height"] / 2
    assert label["y"] <= middle <= label["y"] + label["height"], (icon, label)
    assert label["height"] < 2 * chips["height"] + 4, label  # not wrapped
    assert chips["y"] >= label["y"] + label["height"] - 1, (label, chips)
    page.get_by_label("Filter files by name").fill("NOTES")
    expect(tree_item(page, "shots/sh010/notes.txt")).to_be_visible()
    expect(tree_item(page, "shots")).to_be_visible()  # the folder that leads to it
    expect(tree_item(page, LONG)).to_be_hidden()
    expect(tree_item(page, "shots/sh010/sh010_comp_v003.####.exr")).to_be_hidden()
    page.get_by_label("Filter files by name").fill("")
    expect(tree_item(page, LONG)).to_be_visible()


def test_diff_view_shows_moves_and_sequences_filters_and_groups(
    page: Page, ui_agent: UiAgent, tmp_path: Path, artifacts: Path
) -> None:
    agent = ui_agent()
    root = shot_tree(tmp_path / "film")
    make_tree(root / "shots" / "sh020", {f"plate.{n}.dpx": b"p" * 10 for n in range(1, 6)})
    pid = create_project(agent, "Film", root)
    first = take_snapshot(agent, pid)
    sh010 = root / "shots" / "sh010"
    for n in range(1041, 1089):
        (sh010 / f"sh010_comp_v003.{n}.exr").write_bytes(b"f" * 100)
    (root / "shots" / "sh020").rename(root / "sh020")
    (root / "edit.prproj").write_text("e")
    second = take_snapshot(agent, pid)
    assert first["state"] == second["state"] == "completed"

    open_project_page(page, agent, pid)
    page.locator(f"{PROJECT_VIEW} [data-part=history] tr").nth(0).get_by_role(
        "button", name=re.compile("Compare")).click()
    diff = page.locator(f"{PROJECT_VIEW} [data-part=diff]")
    expect(diff).to_have_attribute("data-state", "ready")
    items = diff.locator("[data-part=list] li.change")
    expect(items).to_have_count(3)
    seq = diff.locator('li[data-path="shots/sh010/sh010_comp_v003.####.exr"]')
    expect(seq).to_have_attribute("data-action", "added")
    expect(seq.locator(".change-detail")).to_have_text("+48 frames 1041-1088 · 4.7 KiB")
    moved = diff.locator('li[data-path="sh020"]')
    expect(moved).to_have_attribute("data-change", "moved")
    expect(moved.locator(".change-path")).to_have_text("shots/sh020 → sh020")
    expect(moved.locator(".change-detail")).to_have_text("folder · 5 files · 50 B")
    expect(diff.locator("[data-count=moved] strong")).to_have_text("6")
    expect(diff.locator("[data-count=added] strong")).to_have_text("49")
    screenshot(page, artifacts, "diff-media.png")

    diff.get_by_label("Show").select_option("moved")
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-path", "sh020")
    diff.get_by_label("Show").select_option("")
    expect(items).to_have_count(3)
    diff.get_by_label("Group by folder").check()
    groups = diff.locator("[data-part=list] li.change-group")
    expect(groups).to_have_text(["(top folder)/ · 2 changes", "shots/sh010/ · 1 change"])
    expect(items).to_have_count(3)

    # A completed snapshot links to its own tree: the older one has no sh020 on top.
    expect(tree_item(page, "sh020")).to_have_count(1)
    older = page.locator(f"{PROJECT_VIEW} [data-part=history] tr").nth(1)
    older.get_by_role("button", name=re.compile("Show the files")).click()
    info = page.locator(f"{PROJECT_VIEW} [data-part=tree-snapshot]")
    expect(info).to_have_attribute("data-snapshot-id", first["snapshotId"])
    expect(tree_item(page, "sh020")).to_have_count(0)
    expect(tree_item(page, "shots")).to_have_count(1)
