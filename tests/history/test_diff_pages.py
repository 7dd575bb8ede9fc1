"""Paging through a diff computes it once: later pages come from the agent's kept
diff, not from the manifests again."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from history.test_browse_diff import get, snapshot
from support.agent import AgentProcess
from support.trees import make_tree
from vidsync.api.recent_diffs import CHANGE_BYTES, CHUNK, KeptDiff, RecentDiffs
from vidsync.snapshot.diff import Diff


def test_later_pages_of_a_diff_do_not_read_the_manifests(
    agent: AgentProcess, tmp_path: Path
) -> None:
    root = make_tree(tmp_path / "p", {"keep.mov": b"k"})
    pid = httpx.post(f"{agent.url}/api/v1/projects",
                     json={"localPath": str(root)}).json()["projectId"]
    a = snapshot(agent, pid)
    for i in range(30):
        (root / f"new{i:02d}.mov").write_bytes(b"n" * i)
    b = snapshot(agent, pid)
    route = f"/api/v1/projects/{pid}/snapshots/{a}/diff/{b}"
    first = get(agent, route, limit=10)
    assert first["total"] == 30 and first["nextOffset"] == 10

    record = get(agent, f"/api/v1/projects/{pid}/snapshots/{a}", limit=1)["snapshot"]
    Path(unquote(urlparse(record["snapshotUrl"]).path)).write_bytes(b"spoiled")

    pages = [get(agent, route, offset=offset, limit=10) for offset in (10, 20)]
    paths = [c["path"] for page in (first, *pages) for c in page["changes"]]
    assert paths == [f"new{i:02d}.mov" for i in range(30)]
    assert pages[-1]["nextOffset"] is None
    # Another diff of the same snapshots must read them, and finds one damaged.
    other = httpx.get(agent.url + route, params={"moves": "false"})
    assert other.status_code == 502 and "damaged" in other.json()["detail"]


def diff_of(changes: int) -> Diff:
    return Diff(changes=[{"change": "added", "path": str(i), "after": {"size": i}}
                         for i in range(changes)])


def test_kept_diffs_are_bounded_by_count_and_size() -> None:
    recent = RecentDiffs(keep=2, max_bytes=100 * CHANGE_BYTES, pack_over=1000)
    computed: list[str] = []

    def compute(key: str, changes: int = 10) -> KeptDiff:
        return recent.get(key, lambda: computed.append(key) or diff_of(changes))

    compute("a"), compute("b"), compute("a")  # a is used last: b goes first
    compute("c")
    compute("a"), compute("b")
    assert computed == ["a", "b", "c", "b"]
    compute("big", changes=101)  # larger than all the room: never kept
    compute("big", changes=101)
    assert computed.count("big") == 2
    compute("d", changes=60), compute("e", changes=60)  # together over the room
    compute("d", changes=60)
    assert computed[-3:] == ["d", "e", "d"]


def test_a_diff_with_many_changes_is_kept_packed_and_pages_the_same() -> None:
    diff = diff_of(2 * CHUNK + 500)
    recent = RecentDiffs(max_bytes=200_000, pack_over=100)  # unpacked it would not fit
    computed: list[Diff] = []

    def compute() -> Diff:
        computed.append(diff)
        return diff

    kept = recent.get("big", compute)
    assert recent.get("big", compute) is kept
    assert len(computed) == 1 and kept.size < 200_000 and kept.total == len(diff.changes)
    for offset, limit in [(0, 10), (CHUNK - 1, 2), (CHUNK, CHUNK), (5, 2 * CHUNK),
                          (2 * CHUNK + 400, 1000), (len(diff.changes), 10), (10**6, 5)]:
        assert kept.page(offset, limit) == diff.changes[offset : offset + limit]
