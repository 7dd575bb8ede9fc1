"""The reconnect schedule shared with the browser client (DESIGN §5)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vidsync import protocol

if TYPE_CHECKING:
    from vidsync.client.types import ClientConfig

#: Delays between reconnect attempts, in units of ``Backoff.base`` (1 s by default).
#: Only a fallback: the agent serves its schedule in ``GET /api/v1/config``.
BACKOFF_STEPS: tuple[float, ...] = protocol.BACKOFF_DELAYS_S
BACKOFF_JITTER = protocol.BACKOFF_JITTER
#: Failed attempts in a row after which the client also polls: the first one, so
#: the screen keeps moving within a poll interval while the stream is retried.
FAILURES_BEFORE_POLLING = 1


@dataclass(frozen=True)
class Backoff:
    """``delay(n)``: the wait before the next attempt after ``n`` waits in a row.

    The schedule is 1, 2, 4, 8, 15, 30, 30... times ``base``, each spread by
    ``±jitter`` so that many clients that lost the same agent do not all come
    back in the same instant. ``random`` is injectable for tests.
    """

    base: float = 1.0
    steps: tuple[float, ...] = BACKOFF_STEPS
    jitter: float = BACKOFF_JITTER
    random: Callable[[], float] = field(default=random.random, compare=False)

    @classmethod
    def from_config(cls, config: ClientConfig, **options: Any) -> Backoff:
        """The schedule the agent serves (seconds), with its jitter."""
        return cls(base=1.0, steps=config.backoff_delays, jitter=config.backoff_jitter, **options)

    def schedule(self, count: int) -> list[float]:
        """The first ``count`` delays, as :meth:`delay` gives them."""
        return [self.delay(n) for n in range(count)]

    def nominal(self, attempt: int) -> float:
        """The delay before jitter."""
        return self.steps[min(max(attempt, 0), len(self.steps) - 1)] * self.base

    def delay(self, attempt: int) -> float:
        return self.nominal(attempt) * (1 - self.jitter + 2 * self.jitter * self.random())
