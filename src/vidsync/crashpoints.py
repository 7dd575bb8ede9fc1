"""Test-only fault injection: kill the process at a named point of the pipeline.

``VIDSYNC_TEST_CRASH_AT=after-upload`` (or ``after-record``, ``after-publish``)
makes the agent SIGKILL itself there, so tests can check that a restart never
contradicts what a client saw. Unset (always, outside tests) it does nothing.
"""

from __future__ import annotations

import os
import signal

CRASH_POINTS = ("after-upload", "after-record", "after-publish")
# Set in a snapshot worker process: the agent to kill is its parent, not itself.
AGENT_PID_ENV = "VIDSYNC_AGENT_PID"


def crash_point(name: str) -> None:
    if os.environ.get("VIDSYNC_TEST_CRASH_AT") == name:
        os.kill(int(os.environ.get(AGENT_PID_ENV) or os.getpid()), signal.SIGKILL)
