"""``vidsync snapshot PATH`` (in process) loads only what a local snapshot needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.trees import make_flat_tree

# Modules of the agent's server, its clients and the rich bar: none serves a
# one-shot `--json` snapshot, and together they cost more than the walk of a
# 10,000-file tree.
NOT_NEEDED = ["fastapi", "starlette", "uvicorn", "httpx", "anyio", "prometheus_client",
              "rich", "redis", "boto3", "multiprocessing", "vidsync.api", "vidsync.client"]

PROBE = """
import json, sys
from vidsync.cli.main import main
code = main(["snapshot", sys.argv[1], "--json"])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def test_in_process_snapshot_imports_no_server_client_or_bar_module(tmp_path: Path) -> None:
    tree = make_flat_tree(tmp_path / "tree", 300)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tree)], capture_output=True, text=True,
        timeout=120, check=False, env={**os.environ, "VIDSYNC_DATA_DIR": str(tmp_path / "d")},
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["step"] == "completed"
    loaded = [m for m in report["modules"] if m.split(".")[0] in NOT_NEEDED
              or any(m == n or m.startswith(n + ".") for n in NOT_NEEDED)]
    assert loaded == []
    assert "vidsync.snapshot.walk" in report["modules"]  # the parallel walk ran
