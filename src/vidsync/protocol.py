"""The protocol's constants, in one place: steps and their labels, terminal states,
the clients' backoff schedule. ``GET /api/v1/config`` serves them; the web UI, the
Python client and the CLI read them from there (or from here, in process).

No I/O and no heavy imports: the CLI's start-up reads this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from vidsync.models import STEP_NAMES, TERMINAL_STEPS, TOTAL_STEPS, Step


@dataclass(frozen=True, slots=True)
class StepInfo:
    step_number: int
    step: Step
    label: str
    # What ``stepDone``/``stepTotal``/``rate`` count in this step: "files", "bytes" or None.
    unit: str | None


STEPS: tuple[StepInfo, ...] = (
    StepInfo(1, STEP_NAMES[1], "Waiting for scan", None),
    StepInfo(2, STEP_NAMES[2], "Reading folder status", None),
    StepInfo(3, STEP_NAMES[3], "Browsing files", "files"),
    StepInfo(4, STEP_NAMES[4], "Compressing manifest", "files"),
    StepInfo(5, STEP_NAMES[5], "Uploading", "bytes"),
    StepInfo(6, STEP_NAMES[6], "Completed", None),
)
assert len(STEPS) == TOTAL_STEPS

# In the order of Step (completed, failed, cancelled): one set, in models.py.
TERMINAL_STATES: tuple[Step, ...] = tuple(s for s in Step if s in TERMINAL_STEPS)

# What a person sees for a snapshot's state (list badges, history, CLI).
STATE_LABELS: dict[str, str] = {
    "idle": "Idle",
    "queued": "Queued",
    "running": "Running",
    "completed": "Completed",
    "completedWithWarnings": "Completed with warnings",
    "failed": "Failed",
    "cancelled": "Cancelled",
}

# Reconnection delays of every client, in ms: 1 s, 2 s, 4 s, 8 s, 15 s, then 30 s.
BACKOFF_DELAYS_MS: tuple[int, ...] = (1000, 2000, 4000, 8000, 15000, 30000)
BACKOFF_DELAYS_S: tuple[float, ...] = tuple(ms / 1000 for ms in BACKOFF_DELAYS_MS)
# Each delay is spread by up to this fraction either way, so clients do not reconnect in step.
BACKOFF_JITTER = 0.2


def step_label(step_number: int) -> str:
    for info in STEPS:
        if info.step_number == step_number:
            return info.label
    return ""


def step_unit(step_number: int) -> str | None:
    for info in STEPS:
        if info.step_number == step_number:
            return info.unit
    return None
