"""The agent's tree and search read only the part of a big manifest they show.

Shown from outside: a byte spoiled in one shot's range of the stored manifest
breaks only the answers that must read that shot."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from history.test_browse_diff import get, snapshot
from support.agent import AgentProcess
from support.trees import make_tree
from vidsync.snapshot.index import MIN_INDEXED, read_index

SHOTS = [f"sh{n:03d}" for n in range(10, 190, 10)]  # enough folders to share


def film(root: Path) -> Path:
    """Shots big enough to be indexed, and enough of them to be shared among workers."""
    frames = {f"plate.{f}.exr": b"p" * 3 for f in range(1001, 1001 + MIN_INDEXED)}
    return make_tree(root, {"shots": {shot: {"plate": frames} for shot in SHOTS},
                            "readme.txt": "r"})


def spoiled(manifest: bytes, folder: str) -> bytes:
    """``manifest`` with one byte flipped in the middle of ``folder``'s range."""
    ranges = {r.folder: r for r in read_index(io.BytesIO(manifest))}
    at = ranges[folder].offset + ranges[folder].length // 2
    return manifest[:at] + bytes([manifest[at] ^ 0xFF]) + manifest[at + 1:]


def test_a_spoiled_shot_breaks_only_what_reads_it(agent: AgentProcess, tmp_path: Path) -> None:
    root = film(tmp_path / "film")
    pid = httpx.post(f"{agent.url}/api/v1/projects",
                     json={"localPath": str(root)}).json()["projectId"]
    sid = snapshot(agent, pid)
    tree_route = f"/api/v1/projects/{pid}/files-tree"
    before = get(agent, tree_route, depth=1)["tree"]

    record = get(agent, f"/api/v1/projects/{pid}/snapshots/{sid}", limit=1)["snapshot"]
    manifest = Path(unquote(urlparse(record["snapshotUrl"]).path))
    # sh090 is walked as one unit, so indexed.
    manifest.write_bytes(spoiled(manifest.read_bytes(), "shots/sh090"))

    # The top two levels show sh090 only as a total: its bytes are not read.
    assert get(agent, tree_route, depth=1)["tree"] == before
    shots = get(agent, tree_route, path="shots", depth=1)["tree"]
    assert {n["path"]: n["fileCount"] for n in shots}["shots/sh090"] == MIN_INDEXED
    # A search in a shot after it skips it too.
    found = get(agent, f"/api/v1/projects/{pid}/files-search", q="plate.", path="shots/sh170")
    assert found["total"] == 1  # its sequence, one node
    # What lists sh090's files must read them, and says the manifest is damaged.
    # (Reading it whole gave a 500 before: zlib's own error was not caught.)
    for route, params in ((tree_route, {"path": "shots/sh090"}),
                          (tree_route, {}),
                          (f"/api/v1/projects/{pid}/files-search", {"q": "plate"}),
                          (f"/api/v1/projects/{pid}/files", {"offset": 9000}),
                          (f"/api/v1/projects/{pid}/snapshots/{sid}/diff/{sid}", {})):
        r = httpx.get(agent.url + route, params=params)
        assert r.status_code == 502 and "damaged" in r.json()["detail"], (route, params)
