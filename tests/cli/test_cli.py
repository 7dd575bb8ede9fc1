"""The remote commands of ``vidsync`` against a real agent: exit codes and output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from support.agent import AgentFactory, AgentProcess, free_port, wait_until
from support.trees import make_flat_tree, make_tree
from vidsync.cli.main import main
from vidsync.client import AgentClient


def vidsync(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    # A wide "terminal", so the bar's columns are not cut to 80 characters.
    return subprocess.run(
        [sys.executable, "-m", "vidsync.cli.main", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def json_lines(out: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_watch_exits_0_on_completed_and_prints_json_lines(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.002")
    with AgentClient(agent.url) as api:
        started = api.create_project_with_snapshot(make_flat_tree(tmp_path / "t", 300))
    done = vidsync("watch", started["projectId"], "--agent", agent.url, "--json")
    assert done.returncode == 0, done.stderr
    events = json_lines(done.stdout)
    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids)) and events[-1]["step"] == "completed"
    # the bar, with the connection state, on stderr when not --json
    bar = vidsync("watch", started["projectId"], "--agent", agent.url)
    assert bar.returncode == 0 and "Snapshot stored at" in bar.stderr
    assert "no snapshot of t is running; the last one" in bar.stderr and bar.stdout == ""
    assert "disconnected" not in bar.stderr  # the stream closing after the end is no news


def test_watch_next_waits_for_the_next_snapshot(agent: AgentProcess, tmp_path: Path) -> None:
    with AgentClient(agent.url) as api:
        pid = api.create_project_with_snapshot(make_tree(tmp_path / "t", {"a": "1"}))[
            "projectId"]
        old = api.wait(pid)
        watcher = subprocess.Popen(
            [sys.executable, "-m", "vidsync.cli.main", "watch", pid, "--next", "--json",
             "--agent", agent.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert watcher.stderr is not None
        assert "waiting for the next snapshot" in watcher.stderr.readline()
        new = api.start_snapshot(pid)["snapshotId"]
        out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    events = json_lines(out)
    assert {e["snapshotId"] for e in events} == {new} != {old.snapshot_id}
    assert events[-1]["step"] == "completed"
    # Ctrl-C while it waits: it stops, as when watching
    waiting = subprocess.Popen(
        [sys.executable, "-m", "vidsync.cli.main", "watch", pid, "--next", "--agent", agent.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert waiting.stderr is not None
    assert "waiting for the next snapshot" in waiting.stderr.readline()
    waiting.send_signal(signal.SIGINT)
    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 130 and "stopped watching" in err and "Traceback" not in err


def test_watch_exits_non_zero_on_cancelled_and_on_failed(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.01")
    with AgentClient(agent.url) as api:
        pid = api.create_project_with_snapshot(make_flat_tree(tmp_path / "t", 2000))["projectId"]
        watcher = subprocess.Popen(
            [sys.executable, "-m", "vidsync.cli.main", "watch", pid, "--agent", agent.url,
             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert watcher.stdout is not None
        first = json.loads(watcher.stdout.readline())  # it is watching
        assert first["projectId"] == pid
        api.cancel_snapshot(pid)
        out, err = watcher.communicate(timeout=30)
        assert watcher.returncode == 130, err
        assert json_lines(out)[-1]["step"] == "cancelled" and "cancelled" in err

    # a store it cannot write to makes the upload step fail
    failing = agent_factory(data_dir=tmp_path / "d2", VIDSYNC_STORAGE_URL="file:///proc/vidsync")
    with AgentClient(failing.url) as api:
        pid = api.create_project_with_snapshot(make_tree(tmp_path / "u", {"a": "1"}))[
            "projectId"]
    done = vidsync("watch", pid, "--agent", failing.url)
    assert done.returncode == 1, done.stderr
    assert "snapshot failed" in done.stderr


def test_snapshot_with_agent_creates_then_reuses_the_project(
    agent: AgentProcess, tmp_path: Path
) -> None:
    tree = make_tree(tmp_path / "tree", {"a.txt": "1"})
    first = vidsync("snapshot", "--agent", agent.url, str(tree), "--json")
    assert first.returncode == 0, first.stderr
    sid = json_lines(first.stdout)[-1]["snapshotId"]
    again = vidsync("snapshot", "--agent", agent.url, "tree", "--json")  # by name
    assert again.returncode == 0, again.stderr
    events = json_lines(again.stdout)
    assert {e["snapshotId"] for e in events} != {sid}  # a new snapshot, not the old state
    assert events[-1]["step"] == "completed"
    with AgentClient(agent.url) as api:
        projects = api.list_projects()
    assert len(projects) == 1 and projects[0]["localPath"] == str(tree)
    missing = vidsync("snapshot", "--agent", agent.url, "no-such-project")
    assert missing.returncode == 2 and "no project" in missing.stderr


def test_projects_history_and_diff_output(
    agent: AgentProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = make_tree(tmp_path / "tree", {"keep.txt": "1", "gone.txt": "2", "d": {"x": "3"},
                                         "t": "file"})
    with AgentClient(agent.url) as api:
        pid = api.create_project_with_snapshot(tree)["projectId"]
        a = api.wait(pid)
        (tree / "gone.txt").unlink()
        (tree / "keep.txt").write_text("1111")
        (tree / "t").unlink()
        (tree / "t").mkdir()
        (tree / "new.txt").write_text("n")
        b_id = api.start_snapshot(pid)["snapshotId"]
        b = api.wait(pid, snapshot_id=b_id)
    assert a is not None and b is not None
    url = ["--agent", agent.url]

    assert main(["projects", *url]) == 0
    out = capsys.readouterr().out
    assert pid in out and str(tree) in out and "completed" in out
    assert main(["history", "tree", *url]) == 0
    out = capsys.readouterr().out
    for word in ("date", "state", "files", "size", "duration", a.snapshot_id, b.snapshot_id):
        assert str(word) in out
    assert main(["history", pid, "--json", *url]) == 0
    assert [r["snapshotId"] for r in json.loads(capsys.readouterr().out)] == [b_id,
                                                                              a.snapshot_id]

    assert main(["diff", pid, str(a.snapshot_id), b_id, *url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == ["-    gone.txt", "M    keep.txt", "+    new.txt", "T    t/"]
    assert "1 added, 1 removed, 1 modified, 1 changed type" in lines[-2]
    assert main(["diff", pid, str(a.snapshot_id), b_id, "--json", *url]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"] == {"added": 1, "removed": 1, "modified": 1, "typeChanged": 1,
                              "moved": 0}
    assert len(data["changes"]) == 4 and data["nextOffset"] is None

    assert main(["diff", pid, "snap-nope", b_id, *url]) == 2
    assert "no snapshot" in capsys.readouterr().err
    wait_until(lambda: httpx.get(agent.url + "/api/v1/health").status_code == 200)


def test_ctrl_c_during_snapshot_with_agent_cancels_it_on_the_agent(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory(VIDSYNC_THROTTLE="0.01")
    tree = make_flat_tree(tmp_path / "t", 2000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidsync.cli.main", "snapshot", "--agent", agent.url, str(tree),
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())  # running, and the handler is installed
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    last = json_lines(out)[-1]
    assert (last["snapshotId"], last["step"]) == (first["snapshotId"], "cancelled")
    with AgentClient(agent.url) as api:
        assert api.list_snapshots(first["projectId"])[0]["state"] == "cancelled"


def test_in_process_snapshot_with_a_bad_storage_url_leaves_no_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    monkeypatch.setenv("VIDSYNC_STORAGE_URL", "ftp://example/snapshots")
    tree = make_tree(tmp_path / "t", {"a": "1"})
    assert main(["snapshot", str(tree), "--data-dir", str(tmp_path / "data"), "--json"]) == 2
    assert "VIDSYNC_STORAGE_URL" in capsys.readouterr().err
    db = tmp_path / "data" / "vidsync.db"
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 0


def test_in_process_snapshot_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "data"), "--json"]
    tree = make_tree(tmp_path / "t", {"a": "1"})
    assert main(["snapshot", str(tree), *data]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["step"] == "completed"
    assert main(["snapshot", str(tmp_path / "missing"), *data]) == 2
    # a store that cannot be written fails the snapshot: exit 1, the error on stderr
    (tmp_path / "data" / "snapshots").rename(tmp_path / "data" / "moved")
    (tmp_path / "data" / "snapshots").write_text("not a folder")
    assert main(["snapshot", str(tree), *data]) == 1
    assert "snapshot failed" in capsys.readouterr().err


def test_names_cannot_drive_the_terminal(agent: AgentProcess, tmp_path: Path) -> None:
    evil = "evil\x1b[31mRED\x07\nline [bold]x"
    tree = make_tree(tmp_path / "t", {"ctrl\x01\x1b[31mred\n.txt": "1"})
    with AgentClient(agent.url) as api:
        pid = api.create_project_with_snapshot(tree, name=evil)["projectId"]
        api.wait(pid)
    listed = vidsync("projects", "--agent", agent.url)
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout and "\\x1b[31mRED\\x07\\nline [bold]x" in listed.stdout
    found = vidsync("find", pid, "ctrl", "--agent", agent.url)
    assert found.returncode == 0, found.stderr
    # one line per match, whatever the name holds
    assert found.stdout == "ctrl\\x01\\x1b[31mred\\n.txt\n"


def test_bad_agent_urls_and_ports_are_usage_errors(tmp_path: Path) -> None:
    for url in ("http://127.0.0.1:99999", "http://[::1", "ftp://127.0.0.1:5001"):
        bad = vidsync("projects", "--agent", url)
        assert bad.returncode == 2 and "is not an agent URL" in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "vidsync.cli.main", "projects"],
                         capture_output=True, text=True, check=False,
                         env={**os.environ, "VIDSYNC_PORT": "eighty"})
    assert bad.returncode == 2 and "VIDSYNC_PORT" in bad.stderr
    port = vidsync("serve", "--port", "99999", "--data-dir", str(tmp_path / "d"))
    assert port.returncode == 2 and "1-65535" in port.stderr


def test_a_server_that_is_not_the_agent_is_named_so(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html>hello</html>")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                               "127.0.0.1", "--directory", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/"))
        for args in (("projects",), ("history", "x")):
            out = vidsync(*args, "--agent", f"http://127.0.0.1:{port}")
            assert out.returncode == 2, out.stderr
            assert "is not a vidsync agent" in out.stderr and "Traceback" not in out.stderr
    finally:
        server.kill()
        server.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False


def test_a_path_finds_the_project_of_that_folder_through_symlinks(
    agent: AgentProcess, tmp_path: Path
) -> None:
    real = make_tree(tmp_path / "real", {"a": "1"})
    other = make_tree(tmp_path / "other", {"b": "2"})
    link = tmp_path / "link"
    link.symlink_to(real)
    with AgentClient(agent.url) as api:
        pid = api.create_project_with_snapshot(real)["projectId"]
        api.wait(pid)
        # a project named like the first one's folder
        impostor = api.create_project_with_snapshot(other, name=str(real))["projectId"]
        api.wait(impostor)
    for arg in (str(real), str(link)):
        shown = vidsync("history", arg, "--agent", agent.url, "--json")
        assert shown.returncode == 0, shown.stderr
        assert {r["projectId"] for r in json.loads(shown.stdout)} == {pid}, arg
    again = vidsync("snapshot", "--agent", agent.url, str(link), "--json")
    assert again.returncode == 0, again.stderr
    assert json_lines(again.stdout)[-1]["projectId"] == pid
