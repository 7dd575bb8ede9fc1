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


def test_the_command_exits_quickly_with_its_output_and_code_intact(tmp_path: Path) -> None:
    tree = make_flat_tree(tmp_path / "tree", 50)
    os.mkfifo(tree / "pipe")  # skipped: "completed with 1 skipped", exit code 3
    done = subprocess.run(
        [sys.executable, "-m", "vidsync", "snapshot", str(tree), "--json"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "VIDSYNC_DATA_DIR": str(tmp_path / "d")},
    )
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 3, done.stderr
    assert events[-1]["step"] == "completed" and events[-1]["skippedCount"] == 1
    assert "1 skipped (1 special)" in done.stderr  # the warning line reached stderr
