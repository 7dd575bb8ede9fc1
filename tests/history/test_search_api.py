"""GET files-search through a real agent: the whole snapshot, not only a tree level.
Also the Python client's search_files and ``vidsync find``."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from history.test_browse_diff import get, snapshot
from support.agent import AgentProcess, wait_until
from support.trees import make_flat_tree, make_tree
from vidsync.cli.main import main
from vidsync.client import AgentClient, BadRequestError, NotFoundError


def vfx_project(root: Path) -> Path:
    frames = {f"SH010_comp_v003.{n}.exr": b"f" * 10 for n in range(1001, 1011)}
    shots: dict[str, object] = {
        f"sh{n:02d}0": {"comp": {f"sh{n:02d}0_notes.txt": "n"}} for n in range(2, 8)
    }
    return make_tree(root, {
        "shots": {"sh010": {"comp": {"v003": frames, "sh010_notes.txt": "notes"}}, **shots},
        "editorial": {"deep": {"er": {"still": {"Final_SH010_cut.mov": b"m" * 7}}}},
        "readme.txt": "r",
    })


def paths(nodes: list[dict[str, Any]], matched: bool = True) -> list[str]:
    """Paths of the (matching) nodes, depth first."""
    out: list[str] = []
    for node in nodes:
        if node.get("match") or not matched:
            out.append(node["path"])
        if node.get("type") != "sequence":
            out.extend(paths(node.get("children") or [], matched))
    return out


@pytest.fixture
def project(agent: AgentProcess, tmp_path: Path) -> str:
    root = vfx_project(tmp_path / "film")
    pid: str = httpx.post(f"{agent.url}/api/v1/projects",
                          json={"localPath": str(root)}).json()["projectId"]
    snapshot(agent, pid)
    return pid


def test_search_finds_entries_deep_in_folders_never_listed(
    agent: AgentProcess, project: str
) -> None:
    route = f"/api/v1/projects/{project}/files-search"
    # the top level of the tree does not show them: they are four levels down
    top = get(agent, f"/api/v1/projects/{project}/files-tree", depth=1)["tree"]
    assert all(not n["children"] for n in top if n["isDirectory"])
    found = get(agent, route, q="sh010")
    assert paths(found["tree"]) == [
        "editorial/deep/er/still/Final_SH010_cut.mov",
        "shots/sh010",
        "shots/sh010/comp/sh010_notes.txt",
        "shots/sh010/comp/v003/SH010_comp_v003.####.exr",
    ]
    assert (found["matches"], found["total"], found["truncated"]) == (4, 4, False)
    assert (found["query"], found["limit"], found["path"]) == ("sh010", 500, "")
    # only the folders that lead to a match, with their totals of everything below
    assert [n["name"] for n in found["tree"]] == ["editorial", "shots"]
    shots = found["tree"][1]
    assert [n["name"] for n in shots["children"]] == ["sh010"]
    assert (shots["fileCount"], shots["totalBytes"]) == (17, 100 + 5 + 6)
    seq = get(agent, route, q="comp_v003.####")["tree"][0]["children"][0]["children"][0]
    seq = seq["children"][0]["children"][0]
    assert (seq["type"], seq["frames"], seq["fileCount"], seq["match"]) == (
        "sequence", "1001-1010", 10, True)
    assert len(seq["children"]) == 10


def test_search_is_case_insensitive_and_frames_match_only_as_a_sequence(
    agent: AgentProcess, project: str
) -> None:
    route = f"/api/v1/projects/{project}/files-search"
    assert paths(get(agent, route, q="FINAL_sh010")["tree"]) == [
        "editorial/deep/er/still/Final_SH010_cut.mov"]
    by_frame = get(agent, route, q="1005")  # the sequence that has frame 1005, once
    assert by_frame["total"] == 1
    (seq,) = paths(by_frame["tree"])
    assert seq.endswith(".####.exr"), seq
    assert get(agent, route, q="1005", sequences="false")["total"] == 1
    assert paths(get(agent, route, q="er/still/f")["tree"]) == [
        "editorial/deep/er/still/Final_SH010_cut.mov"]
    scoped = get(agent, route, q="notes", path="shots/sh020")
    assert paths(scoped["tree"]) == ["shots/sh020/comp/sh020_notes.txt"]
    none = get(agent, route, q="nothing-like-this")
    assert (none["tree"], none["total"], none["truncated"]) == ([], 0, False)


def test_search_is_capped_and_says_so(agent: AgentProcess, project: str) -> None:
    found = get(agent, f"/api/v1/projects/{project}/files-search", q="notes", limit=2)
    assert (found["matches"], found["total"], found["truncated"]) == (2, 7, True)
    assert len(paths(found["tree"])) == 2


@pytest.mark.parametrize(("params", "field"), [
    ({}, "q"),
    ({"q": ""}, "q"),
    ({"q": "   "}, "q"),
    ({"q": "x" * 201}, "q"),
    ({"q": "a", "limit": 0}, "limit"),
    ({"q": "a", "limit": 5001}, "limit"),
    ({"q": "a", "limit": "many"}, "limit"),
    ({"q": "a", "path": "p" * 5000}, "path"),
])
def test_bad_search_input_is_a_4xx_that_names_the_field(
    agent: AgentProcess, project: str, params: dict[str, Any], field: str
) -> None:
    r = httpx.get(f"{agent.url}/api/v1/projects/{project}/files-search", params=params)
    assert r.status_code in (400, 422), r.text
    body = r.json()
    assert body["detail"] and body.get("field") == field, body
    assert len(r.text) < 2000  # never echoes the huge input


def test_search_of_an_unknown_project_or_snapshot_is_a_404(
    agent: AgentProcess, project: str
) -> None:
    r = httpx.get(f"{agent.url}/api/v1/projects/proj-nope/files-search", params={"q": "a"})
    assert r.status_code == 404
    r = httpx.get(f"{agent.url}/api/v1/projects/{project}/files-search",
                  params={"q": "a", "snapshotId": "snap-nope"})
    assert r.status_code == 404


def test_client_searches_files(agent: AgentProcess, project: str) -> None:
    with AgentClient(agent.url) as api:
        found = api.search_files(project, "SH010", limit=1)
        assert (found["matches"], found["total"], found["truncated"]) == (1, 4, True)
        assert paths(found["tree"]) == ["editorial/deep/er/still/Final_SH010_cut.mov"]
        latest = api.list_snapshots(project)[0]["snapshotId"]
        pinned = api.search_files(project, "v003", snapshot_id=latest, sequences=False)
        assert pinned["snapshot"]["snapshotId"] == latest and pinned["total"] == 11
        with pytest.raises(BadRequestError) as bad:
            api.search_files(project, " ")
        assert bad.value.field == "q"
        with pytest.raises(NotFoundError):
            api.search_files("proj-nope", "x")


def test_vidsync_find_prints_the_matching_paths(
    agent: AgentProcess, project: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--agent", agent.url]
    assert main(["find", project, "SH010", *url]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "editorial/deep/er/still/Final_SH010_cut.mov",
        "shots/sh010/",
        "shots/sh010/comp/sh010_notes.txt",
        "shots/sh010/comp/v003/SH010_comp_v003.####.exr  1001-1010 (10 frames)",
    ]
    assert err == "4 matches\n"
    assert main(["find", project, "notes", "--limit", "2", *url]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2 and err == "first 2 of 7 matches: refine the search\n"
    assert main(["find", project, "nothing-like-this", *url]) == 1
    assert capsys.readouterr().err == "0 matches\n"
    assert main(["find", project, "cut.mov", "--json", *url]) == 0
    assert '"total": 1' in capsys.readouterr().out
    assert main(["find", project, "x", "--limit", "0", *url]) != 0
    assert "limit" in capsys.readouterr().err


def abandoned(agent: AgentProcess, route: str) -> float:
    text = httpx.get(f"{agent.url}/metrics").text
    key = f'vidsync_manifest_reads_abandoned_total{{route="{route}"}} '
    return sum(float(line[len(key):]) for line in text.splitlines() if line.startswith(key))


def test_a_search_whose_client_left_stops_instead_of_reading_on(
    agent: AgentProcess, tmp_path: Path
) -> None:
    # The web filter asks again as the user types: on a big manifest each answer
    # takes seconds, and answers nobody waits for must not pile up on the agent.
    root = make_flat_tree(tmp_path / "big", 30_000, per_dir=1000)
    pid: str = httpx.post(f"{agent.url}/api/v1/projects",
                          json={"localPath": str(root)}).json()["projectId"]
    snapshot(agent, pid)
    assert abandoned(agent, "files-search") == 0
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", agent.port)) as sock:
            sock.sendall(f"GET /api/v1/projects/{pid}/files-search?q=nothing-like-it HTTP/1.1\r\n"
                         f"Host: 127.0.0.1:{agent.port}\r\n\r\n".encode())
        # closed before any answer
    wait_until(lambda: abandoned(agent, "files-search") == 3, timeout=30)
    # A client that waits still gets its answer.
    assert get(agent, f"/api/v1/projects/{pid}/files-search", q="f00001")["total"] == 10
