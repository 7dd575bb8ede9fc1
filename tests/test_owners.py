"""Owner tokens of running snapshots: a live process, and ones that are gone."""

from __future__ import annotations

import os
import subprocess
import sys

from vidsync.owners import is_alive, this_process


def test_this_process_is_alive_and_a_finished_one_is_not() -> None:
    assert is_alive(this_process())
    assert this_process().startswith(f"{os.getpid()}:")
    child = subprocess.Popen([sys.executable, "-c",
                              "from vidsync.owners import this_process; print(this_process())"],
                             stdout=subprocess.PIPE, text=True)
    out, _ = child.communicate(timeout=30)
    assert not is_alive(out.strip())


def test_a_reused_pid_with_another_start_time_is_not_the_owner() -> None:
    pid = os.getpid()
    assert not is_alive(f"{pid}:1")
    assert not is_alive(None) and not is_alive("") and not is_alive("not-a-pid:1")
