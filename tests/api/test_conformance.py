"""Every route against its own /openapi.json, with schemathesis, on real ids."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from support.agent import AgentFactory, snapshot_and_wait
from support.trees import make_tree

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"


def test_every_route_conforms_to_its_schema_with_no_server_error(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    # Fuzzed create-with-snapshot calls may name a real folder such as "/": the
    # throttle keeps such a walk from eating the machine while the run lasts.
    agent = agent_factory(VIDSYNC_THROTTLE="0.01")
    tree = make_tree(tmp_path / "tree", {"a.mov": "x" * 10, "clips": {"b.mov": "yy"}})
    r = httpx.post(f"{agent.url}/api/v1/projects", json={"localPath": str(tree)})
    assert r.status_code == 201, r.text
    pid = r.json()["projectId"]
    first = snapshot_and_wait(agent, pid)
    (tree / "c.mov").write_text("new")
    second = snapshot_and_wait(agent, pid)

    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        f'"path.projectId" = "{pid}"\n'
        f'"path.snapshotId" = "{first}"\n'
        f'"path.a" = "{first}"\n'
        f'"path.b" = "{second}"\n'
    )
    st = Path(sys.executable).with_name("st")
    run = subprocess.run(
        [
            str(st), "--config-file", str(config), "run", f"{agent.url}/openapi.json",
            "--checks", CHECKS,
            "--max-examples", "12",
            "--seed", "1",
            "--workers", "1",
            # Endless SSE streams are checked by the stream tests.
            "--exclude-path-regex", "stream",
            # Deleting the project would leave the other operations nothing real to use.
            "--exclude-operation-id", "delete_project_api_v1_projects__projectId__delete",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:] + agent.log()
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert tested is not None and int(tested.group(1)) >= 15, run.stdout[-3000:]
    # The project is still there and its snapshots readable: the run used real ids.
    assert httpx.get(f"{agent.url}/api/v1/projects/{pid}").status_code == 200
