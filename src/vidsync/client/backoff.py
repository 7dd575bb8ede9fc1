"""The reconnect schedule shared with the browser client (DESIGN §5)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

#: Delays between reconnect attempts, in units of ``Backoff.base`` (1 s by default).
BACKOFF_STEPS: tuple[float, ...] = (1, 2, 4, 8, 15, 30)
#: Failed attempts in a row after which the client also polls.
FAILURES_BEFORE_POLLING = 5


@dataclass(frozen=True)
class Backoff:
    """``delay(n)``: the wait before the next attempt after ``n`` waits in a row.

    The schedule is 1, 2, 4, 8, 15, 30, 30... times ``base``, each spread by
    ``±jitter`` so that many clients that lost the same agent do not all come
    back in the same instant. ``random`` is injectable for tests.
    """

    base: float = 1.0
    steps: tuple[float, ...] = BACKOFF_STEPS
    jitter: float = 0.2
    random: Callable[[], float] = field(default=random.random, compare=False)

    def nominal(self, attempt: int) -> float:
        """The delay before jitter."""
        return self.steps[min(max(attempt, 0), len(self.steps) - 1)] * self.base

    def delay(self, attempt: int) -> float:
        return self.nominal(attempt) * (1 - self.jitter + 2 * self.jitter * self.random())
