"""Browsing stored snapshots, comparing them, and batch snapshots."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx

from support.agent import AgentProcess, wait_until
from support.sse import read_stream
from support.trees import make_tree


def snapshot(agent: AgentProcess, pid: str) -> str:
    sid: str = httpx.post(f"{agent.url}/api/v1/projects/{pid}/snapshot").json()["snapshotId"]
    done = read_stream(f"{agent.url}/api/v1/projects/{pid}/progress/stream",
                       params={"snapshotId": sid})
    assert done.events[-1][1]["step"] == "completed", done.events[-1]
    wait_until(lambda: httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}")
               .json()["snapshot"]["state"] == "completed")
    return sid


def get(agent: AgentProcess, route: str, **params: Any) -> dict[str, Any]:
    r = httpx.get(agent.url + route, params=params)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def test_diff_finds_added_removed_resized_touched_and_type_changed(
    agent: AgentProcess, tmp_path: Path
) -> None:
    root = make_tree(tmp_path / "p", {
        "keep.mov": b"k" * 100,
        "resize.mov": b"r" * 100,
        "touch.mov": b"t" * 100,
        "gone.mov": b"g" * 50,
        "becomes_dir": b"f" * 30,
        "old_dir": {"inner.txt": b"i" * 7},
    })
    pid = httpx.post(agent.url + "/api/v1/projects",
                     json={"localPath": str(root)}).json()["projectId"]
    a = snapshot(agent, pid)
    (root / "resize.mov").write_bytes(b"r" * 160)
    st = os.stat(root / "touch.mov")
    os.utime(root / "touch.mov", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    (root / "gone.mov").unlink()
    (root / "becomes_dir").unlink()
    (root / "becomes_dir").mkdir()
    (root / "becomes_dir" / "child.txt").write_bytes(b"c" * 3)
    shutil.rmtree(root / "old_dir")
    (root / "new.mov").write_bytes(b"n" * 40)
    b = snapshot(agent, pid)
    d = get(agent, f"/api/v1/projects/{pid}/snapshots/{a}/diff/{b}")
    changes = {(c["change"], c["path"]) for c in d["changes"]}
    assert changes == {
        ("modified", "resize.mov"),
        ("modified", "touch.mov"),
        ("removed", "gone.mov"),
        ("typeChanged", "becomes_dir"),
        ("added", "becomes_dir/child.txt"),
        ("removed", "old_dir"),
        ("removed", "old_dir/inner.txt"),
        ("added", "new.mov"),
    }
    assert d["counts"] == {"added": 2, "removed": 3, "modified": 2, "typeChanged": 1, "moved": 0}
    assert d["bytes"] == {"added": 43, "removed": 57, "modifiedDelta": 60 - 30,
                          "totalDelta": 43 - 57 + 30}
    assert d["total"] == 8 and d["nextOffset"] is None
    # paging
    first = get(agent, f"/api/v1/projects/{pid}/snapshots/{a}/diff/{b}", limit=3)
    assert len(first["changes"]) == 3 and first["nextOffset"] == 3
    # the same snapshot against itself: nothing
    same = get(agent, f"/api/v1/projects/{pid}/snapshots/{a}/diff/{a}")
    assert same["total"] == 0
    # a damaged manifest is a clear error, not a 500
    record = get(agent, f"/api/v1/projects/{pid}/snapshots/{b}")["snapshot"]
    manifest = Path(record["snapshotUrl"].removeprefix("file://"))
    manifest.write_bytes(manifest.read_bytes()[: manifest.stat().st_size // 2])
    # (b to a: a diff not computed yet; the agent keeps the ones it computed)
    r = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{b}/diff/{a}")
    assert r.status_code == 502 and "damaged" in r.json()["detail"], r.text
    # unknown snapshot ids are a clear 404
    r = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{a}/diff/snap-nope")
    assert r.status_code == 404 and "snap-nope" in r.json()["detail"]


def test_browse_snapshot_files_and_tree(agent: AgentProcess, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {
        "clips": {"a.mov": b"a" * 10, "b.mov": b"b" * 20, "day2": {"c.mov": b"c" * 5}},
        "edit.prproj": b"e" * 3,
    })
    pid = httpx.post(agent.url + "/api/v1/projects",
                     json={"localPath": str(root)}).json()["projectId"]
    r = httpx.get(f"{agent.url}/api/v1/projects/{pid}/files")
    assert r.status_code == 404 and "no completed snapshot" in r.json()["detail"]
    sid = snapshot(agent, pid)
    page1 = get(agent, f"/api/v1/projects/{pid}/snapshots/{sid}", limit=2)
    assert page1["total"] == 6 and page1["nextOffset"] == 2
    page2 = get(agent, f"/api/v1/projects/{pid}/snapshots/{sid}", offset=2, limit=10)
    paths = [e["path"] for e in page1["entries"] + page2["entries"]]
    assert paths == ["clips", "clips/a.mov", "clips/b.mov", "clips/day2", "clips/day2/c.mov",
                     "edit.prproj"]
    assert page2["nextOffset"] is None
    files = get(agent, f"/api/v1/projects/{pid}/files")
    assert [e["path"] for e in files["entries"]] == paths
    full = get(agent, f"/api/v1/projects/{pid}/files-tree")["tree"]
    assert [n["name"] for n in full] == ["clips", "edit.prproj"]
    clips = full[0]
    assert (clips["totalBytes"], clips["fileCount"]) == (35, 3)
    assert [n["name"] for n in clips["children"]] == ["a.mov", "b.mov", "day2"]
    shallow = get(agent, f"/api/v1/projects/{pid}/files-tree", depth=1)["tree"]
    assert shallow[0]["children"] == [] and shallow[0]["totalBytes"] == 35
    sub = get(agent, f"/api/v1/projects/{pid}/files-tree", path="clips/day2")["tree"]
    assert [n["path"] for n in sub] == ["clips/day2/c.mov"]
    for spelled in ("./clips/day2/", "clips/x/../day2", "/clips//day2"):
        same = get(agent, f"/api/v1/projects/{pid}/files-tree", path=spelled)
        assert (same["path"], same["tree"]) == ("clips/day2", sub), spelled
    (root / "clips" / "empty").mkdir()
    with_empty = snapshot(agent, pid)
    route = f"/api/v1/projects/{pid}/files-tree"
    assert get(agent, route, path="clips/empty", snapshotId=with_empty)["tree"] == []
    # a folder that is not there is not an empty one
    for missing in ("nope", "clips/a.mov", "clips/empty/deeper"):
        for where in (route, f"/api/v1/projects/{pid}/files-search"):
            r = httpx.get(agent.url + where, params={"path": missing, "q": "mov",
                                                     "snapshotId": with_empty})
            assert r.status_code == 404 and r.json()["field"] == "path", (where, r.text)
            assert repr(missing) in r.json()["detail"]
    found = get(agent, f"/api/v1/projects/{pid}/files-search", q="zzz", path="clips/empty",
                snapshotId=with_empty)
    assert found["total"] == 0 and found["tree"] == []
    above = httpx.get(agent.url + route, params={"path": "../etc"})
    assert above.status_code == 400 and above.json()["field"] == "path"
    (root / "clips" / "empty").rmdir()
    # an older snapshot's tree, by id
    (root / "edit.prproj").unlink()
    snapshot(agent, pid)
    latest = get(agent, f"/api/v1/projects/{pid}/files-tree", depth=1)["tree"]
    assert [n["name"] for n in latest] == ["clips"]
    older = get(agent, f"/api/v1/projects/{pid}/files-tree", depth=1, snapshotId=sid)["tree"]
    assert [n["name"] for n in older] == ["clips", "edit.prproj"]
    # the history pages like the rest: newest first, with the total
    route = f"/api/v1/projects/{pid}/snapshots"
    first = get(agent, route, limit=2)
    assert (first["total"], first["nextOffset"], len(first["snapshots"])) == (3, 2, 2)
    rest = get(agent, route, limit=2, offset=2)
    assert rest["nextOffset"] is None and [r["snapshotId"] for r in rest["snapshots"]] == [sid]
    assert httpx.get(agent.url + route, params={"offset": "abc"}).status_code == 422


def test_batch_starts_under_the_limit_and_finishes_all(
    agent_factory: Any, tmp_path: Path
) -> None:
    agent: AgentProcess = agent_factory(VIDSYNC_BATCH_CONCURRENCY="2", VIDSYNC_THROTTLE="0.001")
    pids = []
    for i in range(4):
        root = make_tree(tmp_path / f"p{i}", {f"f{j}": "x" for j in range(100)})
        pids.append(httpx.post(agent.url + "/api/v1/projects",
                               json={"localPath": str(root)}).json()["projectId"])
    r = httpx.post(agent.url + "/api/v1/snapshots/batch",
                   json={"projectIds": [*pids, "proj-unknown"]})
    assert r.status_code == 202, r.text
    body = r.json()
    assert len(body["started"]) == 2 and len(body["queued"]) == 2
    assert [e["projectId"] for e in body["errors"]] == ["proj-unknown"]
    for item in body["started"] + body["queued"]:
        done = read_stream(f"{agent.url}/api/v1/projects/{item['projectId']}/progress/stream",
                           params={"snapshotId": item["snapshotId"]})
        assert done.events[-1][1]["step"] == "completed"
    r = httpx.post(agent.url + "/api/v1/snapshots/batch", json={"projectIds": []})
    assert r.status_code == 422
