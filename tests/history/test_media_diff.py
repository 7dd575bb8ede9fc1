"""VFX trees through a real agent: sequences in the tree, and a diff that says
"moved" and "+48 frames" instead of listing every file. Also ``vidsync diff``."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from history.test_browse_diff import get, snapshot
from support.agent import AgentProcess
from vidsync.cli.main import main

T0 = 1_764_000_000_000_000_000


def frames(folder: Path, name: str, numbers: range | list[int], pad: int = 4) -> None:
    """Frame files of 100 + n bytes, each with its own modification time."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        path = folder / f"{name}.{n:0{pad}d}.exr"
        path.write_bytes(b"x" * (100 + abs(n) % 50))
        os.utime(path, ns=(T0, T0 + n * 1_000_000))


def test_sequences_moves_and_renumbering_between_two_snapshots(
    agent: AgentProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "feature"
    frames(root / "shots" / "sh010", "sh010_comp_v003", [n for n in range(1001, 1101)
                                                        if n not in (1021, 1022, 1023)])
    frames(root / "shots" / "sh010", "sh010_bg", range(1, 21), pad=3)
    frames(root / "shots" / "sh020", "sh020_plate", range(-5, 30))
    frames(root / "shots" / "sh030", "sh030_comp", range(1001, 1041))
    (root / "shots" / "sh010" / "notes.txt").write_text("n")
    pid = httpx.post(agent.url + "/api/v1/projects",
                     json={"localPath": str(root)}).json()["projectId"]
    a = snapshot(agent, pid)

    tree = get(agent, f"/api/v1/projects/{pid}/files-tree", path="shots/sh010", depth=1)["tree"]
    by_name = {n["name"]: n for n in tree}
    assert sorted(by_name) == ["notes.txt", "sh010_bg.###.exr", "sh010_comp_v003.####.exr"]
    comp = by_name["sh010_comp_v003.####.exr"]
    assert (comp["type"], comp["frames"], comp["missing"], comp["fileCount"]) == (
        "sequence", "1001-1100", "1021-1023", 97)
    negative = get(agent, f"/api/v1/projects/{pid}/files-tree", path="shots/sh020")["tree"]
    assert [(n["name"], n["frames"], n["fileCount"]) for n in negative] == [
        ("sh020_plate.####.exr", "-5-29", 35)]
    plain = get(agent, f"/api/v1/projects/{pid}/files-tree", path="shots/sh010",
                sequences="false")["tree"]
    assert len(plain) == 97 + 20 + 1

    # Frames appended and re-rendered, a shot folder moved, a sequence renumbered.
    sh010 = root / "shots" / "sh010"
    frames(sh010, "sh010_comp_v003", range(1101, 1149))
    for n in (1001, 1002, 1003):
        (sh010 / f"sh010_comp_v003.{n}.exr").write_bytes(b"y" * 500)
    os.rename(root / "shots" / "sh020", root / "sh020_final")
    for path in sorted((root / "shots" / "sh030").iterdir()):
        n = int(path.name.split(".")[1])
        path.rename(path.with_name(f"sh030_comp.{n - 1000:04d}.exr"))
    b = snapshot(agent, pid)

    d = get(agent, f"/api/v1/projects/{pid}/snapshots/{a}/diff/{b}")
    lines = [(c["change"], c.get("action"), c["path"]) for c in d["changes"]]
    assert lines == [
        ("moved", None, "sh020_final"),
        ("sequence", "added", "shots/sh010/sh010_comp_v003.####.exr"),
        ("sequence", "modified", "shots/sh010/sh010_comp_v003.####.exr"),
        ("sequence", "moved", "shots/sh030/sh030_comp.####.exr"),
    ]
    folder, added, modified, renumbered = d["changes"]
    assert (folder["from"], folder["fileCount"]) == ("shots/sh020", 35)
    assert folder["totalBytes"] == sum(100 + abs(n) % 50 for n in range(-5, 30))
    assert (added["frames"], added["frameCount"]) == ("1101-1148", 48)
    assert (modified["frames"], modified["frameCount"]) == ("1001-1003", 3)
    assert (renumbered["fromFrames"], renumbered["frames"]) == ("1001-1040", "1-40")
    assert renumbered["from"] == "shots/sh030/sh030_comp.####.exr"
    assert d["counts"] == {"added": 48, "removed": 0, "modified": 3, "typeChanged": 0,
                           "moved": 36 + 40}
    # the same diff, file by file, as before moves and sequences
    flat = get(agent, f"/api/v1/projects/{pid}/snapshots/{a}/diff/{b}", moves="false",
               sequences="false")
    assert flat["total"] == 48 + 3 + 2 * 36 + 2 * 40

    url = ["--agent", agent.url]
    assert main(["diff", pid, a, b, *url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [
        "R    shots/sh020/ -> sh020_final/  (35 files, 3.9 KiB)",
        "+    shots/sh010/sh010_comp_v003.####.exr  +48 frames 1101-1148",
        "M    shots/sh010/sh010_comp_v003.####.exr  3 frames modified 1001-1003",
        "R    shots/sh030/sh030_comp.####.exr 1001-1040 -> "
        "shots/sh030/sh030_comp.####.exr 1-40  (40 frames)",
    ]
    assert "76 moved" in out[-2]
