"""The agent with VIDSYNC_STORAGE_URL=s3://...: snapshots go to radosgw and are read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from history.test_browse_diff import snapshot
from history.test_tree_index import film, spoiled
from s3.ceph import CephCluster
from s3.helpers import BUCKET
from support.agent import AgentFactory, AgentProcess, wait_until
from support.trees import make_tree
from vidsync.snapshot.index import MIN_INDEXED

pytestmark = pytest.mark.s3


def s3_agent(agent_factory: AgentFactory, ceph: CephCluster, prefix: str) -> AgentProcess:
    """An agent storing its manifests on radosgw under ``prefix``."""
    return agent_factory(
        VIDSYNC_STORAGE_URL=f"s3://{BUCKET}/{prefix}",
        VIDSYNC_S3_ENDPOINT_URL=ceph.endpoint_url,
        AWS_ACCESS_KEY_ID=ceph.access_key,
        AWS_SECRET_ACCESS_KEY=ceph.secret_key,
        AWS_DEFAULT_REGION="us-east-1",
    )


def test_agent_uploads_to_s3_and_reads_snapshots_back(
    agent_factory: AgentFactory, ceph: CephCluster, s3: Any, tmp_path: Path
) -> None:
    agent = s3_agent(agent_factory, ceph, "agent-snapshots")
    root = make_tree(tmp_path / "p", {"a.mov": b"a" * 100, "sub": {"b.txt": b"b" * 7}})
    created = httpx.post(
        agent.url + "/api/v1/projects/with-snapshot", json={"name": "p", "localPath": str(root)}
    ).json()
    pid, sid = created["projectId"], created["snapshotId"]

    def state() -> dict[str, Any]:
        got: dict[str, Any] = httpx.get(f"{agent.url}/api/v1/projects/{pid}/progress").json()
        return got

    wait_until(lambda: state().get("step") in ("completed", "failed"), timeout=30)
    final = state()
    assert final["step"] == "completed", (final, agent.log())
    key = f"agent-snapshots/{pid}/{sid}.json.gz"
    assert final["snapshotUrl"] == f"s3://{BUCKET}/{key}"
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0

    page = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}")
    assert page.status_code == 200, page.text
    paths = {e["path"] for e in page.json()["entries"]}
    assert paths == {"a.mov", "sub", "sub/b.txt"}


def test_the_tree_skips_what_it_shows_as_totals_on_s3(
    agent_factory: AgentFactory, ceph: CephCluster, s3: Any, tmp_path: Path
) -> None:
    # An S3 body cannot seek: the skipped bytes are read past, never inflated.
    agent = s3_agent(agent_factory, ceph, "indexed")
    pid = httpx.post(agent.url + "/api/v1/projects",
                     json={"localPath": str(film(tmp_path / "film"))}).json()["projectId"]
    sid = snapshot(agent, pid)
    route = f"{agent.url}/api/v1/projects/{pid}/files-tree"
    before = httpx.get(route, params={"depth": 2}).json()["tree"]
    key = f"indexed/{pid}/{sid}.json.gz"
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=spoiled(body, "shots/sh050"))

    after = httpx.get(route, params={"depth": 2})
    assert after.status_code == 200, after.text
    assert after.json()["tree"] == before
    top = next(n for n in before if n["path"] == "shots")
    shots = {n["path"]: n for n in top["children"]}
    assert shots["shots/sh050"]["fileCount"] == MIN_INDEXED
    inside = httpx.get(route, params={"path": "shots/sh050"})
    assert inside.status_code == 502 and "damaged" in inside.json()["detail"]
