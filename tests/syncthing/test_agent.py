"""A syncthing-source project through the agent's HTTP API (attach mode)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from support.agent import AgentFactory
from support.sse import read_stream
from support.trees import make_tree
from vidsync.snapshot.syncthing.daemon import SyncthingDaemon
from vidsync.snapshot.syncthing.rest import SyncthingRest, UnknownFolder

pytestmark = pytest.mark.syncthing


def manifest_entries(url: str) -> list[dict[str, object]]:
    with gzip.open(urlparse(url).path, "rt", encoding="utf-8") as f:
        entries: list[dict[str, object]] = json.load(f)["entries"]
        return entries


def test_syncthing_project_snapshots_like_local_and_is_removed_on_delete(
    agent_factory: AgentFactory, syncthing: SyncthingDaemon, rest: SyncthingRest,
    tmp_path: Path,
) -> None:
    agent = agent_factory(VIDSYNC_SYNCTHING_URL=syncthing.url,
                          VIDSYNC_SYNCTHING_API_KEY=syncthing.api_key)
    tree = make_tree(tmp_path / "footage", {
        "a.mov": b"a" * 3000, "day1": {"b.mov": b"b" * 5000, "empty": {}}, "notes.txt": "n"})
    before = sorted(p.name for p in tree.rglob("*"))
    r = httpx.post(agent.url + "/api/v1/projects/with-snapshot",
                   json={"localPath": str(tree), "source": "syncthing"}, timeout=30)
    assert r.status_code == 202, r.text
    pid, sid = r.json()["projectId"], r.json()["snapshotId"]
    assert rest.get_folder(pid)["type"] == "sendonly"  # the project id is the folder id
    done = read_stream(f"{agent.url}/api/v1/projects/{pid}/progress/stream",
                       params={"snapshotId": sid})
    events = [e for _, e in done.events]
    assert events[-1]["step"] == "completed", events[-1]
    assert events[0]["message"] == "Waiting for Syncthing scan..." or events[0]["stepNumber"] > 1
    synced = manifest_entries(events[-1]["snapshotUrl"])

    # the same tree as a local project gives the same entries
    local = httpx.post(agent.url + "/api/v1/projects/with-snapshot",
                       json={"localPath": str(tree), "source": "local"})
    assert local.status_code == 409  # the folder is already a project
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy, symlinks=True)
    r = httpx.post(agent.url + "/api/v1/projects/with-snapshot", json={"localPath": str(copy)})
    lp, ls = r.json()["projectId"], r.json()["snapshotId"]
    done = read_stream(f"{agent.url}/api/v1/projects/{lp}/progress/stream",
                       params={"snapshotId": ls})
    plain = manifest_entries(done.events[-1][1]["snapshotUrl"])

    def shape(entries: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return [(e["path"], e["size"], e["isDirectory"]) for e in entries]

    assert shape(synced) == shape(plain)
    assert sorted(p.name for p in tree.rglob("*")) == before  # nothing written (.stfolder)
    assert httpx.delete(f"{agent.url}/api/v1/projects/{pid}").status_code == 204
    with pytest.raises(UnknownFolder):
        rest.get_folder(pid)


def test_unreachable_syncthing_is_a_502_on_create(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_SYNCTHING_URL="http://127.0.0.1:9",
                          VIDSYNC_SYNCTHING_API_KEY="x")
    r = httpx.post(agent.url + "/api/v1/projects",
                   json={"localPath": str(make_tree(tmp_path / "t", {"a": "1"})),
                         "source": "syncthing"}, timeout=30)
    assert r.status_code == 502, r.text
    assert "cannot reach Syncthing" in r.json()["detail"]
