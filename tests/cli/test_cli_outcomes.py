"""Completed with skipped entries is a warning, and a failure says how to retry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.agent import AgentFactory
from support.trees import make_tree
from vidsync.cli.main import main
from vidsync.cli.view import EXIT_WARNINGS
from vidsync.client import AgentClient, has_warnings


def vidsync(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vidsync.cli.main", *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def tree_with_a_fifo(root: Path) -> Path:
    make_tree(root, {"a.txt": "1"})
    os.mkfifo(root / "pipe")
    return root


def test_in_process_snapshot_with_skipped_entries_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tree_with_a_fifo(tmp_path / "t")
    code = main(["snapshot", str(tree), "--data-dir", str(tmp_path / "data"), "--json"])
    out, err = capsys.readouterr()
    assert code == EXIT_WARNINGS == 3
    last = json.loads(out.splitlines()[-1])
    assert (last["step"], last["skippedCount"]) == ("completed", 1)
    assert "warning: snapshot completed with 1 skipped (1 special)" in err
    # a whole folder is still a plain success
    (tree / "pipe").unlink()
    assert main(["snapshot", str(tree), "--data-dir", str(tmp_path / "data"), "--json"]) == 0


def test_watch_and_client_show_completed_with_skipped_as_a_warning(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory()
    tree = tree_with_a_fifo(tmp_path / "t")
    with AgentClient(agent.url) as api:
        started = api.create_project_with_snapshot(tree)
        final = api.wait(started["projectId"], snapshot_id=started["snapshotId"])
        assert final is not None and final.has_warnings and final.skipped_count == 1
        (record,) = api.list_snapshots(started["projectId"])
        assert has_warnings(record) and record["skipped"] == {
            "vanished": 0, "unreadable": 0, "special": 1}
        page = api.skipped(started["projectId"], started["snapshotId"])
        assert page["entries"] == [{"kind": "special", "path": "pipe"}]
    bar = vidsync("watch", started["projectId"], "--agent", agent.url)
    assert bar.returncode == 3, bar.stderr
    assert "Snapshot completed with 1 skipped (1 special)" in bar.stderr
    assert "Snapshot stored at" not in bar.stderr


def test_a_failed_snapshot_tells_the_retry_command(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_STORAGE_URL="file:///proc/vidsync")
    tree = make_tree(tmp_path / "u", {"a": "1"})
    done = vidsync("snapshot", "--agent", agent.url, str(tree))
    assert done.returncode == 1, done.stderr
    with AgentClient(agent.url) as api:
        (project,) = api.list_projects()
    retry = f"vidsync snapshot --agent {agent.url} {project['projectId']}"
    assert f"to retry: {retry}" in done.stderr
    again = vidsync(*retry.split()[1:])  # the command it printed does retry
    assert again.returncode == 1 and "snapshot failed" in again.stderr
    with AgentClient(agent.url) as api:
        assert len(api.list_snapshots(project["projectId"])) == 2
