"""Which process owns a running snapshot, and whether that process still lives.

Several serving processes share one database (``vidsync serve --workers N``).
A running snapshot's record names its owner, so a sibling can tell a snapshot
that is being worked on from one whose process was killed. The token is the
pid and the process's start time, so a pid the kernel reuses later is not
mistaken for the owner.
"""

from __future__ import annotations

import os
from functools import cache


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # Field 22 (start time); the command name (field 2) may hold spaces and ')'.
    fields = stat[stat.rfind(b")") + 2:].split()
    if len(fields) <= 19 or fields[0] in (b"Z", b"X"):  # a killed child not yet reaped
        return None
    return fields[19].decode()


@cache
def _token(pid: int) -> str:
    return f"{pid}:{_start_time(pid) or ''}"


def this_process() -> str:
    """This process's owner token (computed once per pid: a forked child gets its own)."""
    return _token(os.getpid())


def is_alive(owner: str | None) -> bool:
    """Whether the process of an owner token still runs (None: a record from before
    owners were recorded, whose process is gone)."""
    if not owner:
        return False
    pid_text, _, started = owner.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if started:
        return _start_time(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
