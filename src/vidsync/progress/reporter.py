"""What the pipeline reports through: steps, in-step work, rate and ETA.

The pipeline calls cheap methods (``advance`` may run once per file); the
reporter turns them into full-state events at most every ``min_interval``
seconds (and at every step change) and hands them to a sink, usually
``ProgressTracker.publish``. It never knows who listens.

The bar follows time: each step owns the share of 0-99 that it took of the
whole last time (``progress.expected``), and the ETA is for the whole snapshot.
"""

from __future__ import annotations

from collections.abc import Callable

from vidsync.clock import Clock, SystemClock
from vidsync.models import STEP_NAMES, ProgressEvent, Step, UploadRetry
from vidsync.progress.expected import RUNNING_STEPS, Expected, step_ranges

Sink = Callable[[ProgressEvent], object]

# While a step's total is unknown, progress creeps towards this share of the step.
_UNKNOWN_TOTAL_CAP = 0.9
_UNKNOWN_TOTAL_HALF = 2000.0
# An estimated total (last snapshot's count) or an expected duration may be
# overrun: the step then waits near its end instead of spilling into the next.
_ESTIMATE_CAP = 0.97
# The current run may be bigger or smaller than the last: later steps scale with
# the entry count, within reason.
_SCALE_LIMITS = (0.1, 10.0)


class RateEstimator:
    """Units per second, smoothed (exponential moving average over samples)."""

    def __init__(self, clock: Clock, smoothing: float = 0.3, min_span: float = 0.2) -> None:
        self._clock = clock
        self._smoothing = smoothing
        self._min_span = min_span
        self.reset(0.0)

    def reset(self, done: float) -> None:
        self._t = self._clock.monotonic()
        self._done = done
        self.rate: float | None = None

    def sample(self, done: float) -> float | None:
        now = self._clock.monotonic()
        span = now - self._t
        if span >= self._min_span:
            instant = (done - self._done) / span
            if self.rate is None:
                self.rate = instant
            else:
                self.rate = self._smoothing * instant + (1 - self._smoothing) * self.rate
            self._t, self._done = now, done
        return self.rate


class SnapshotReporter:
    """Progress of one snapshot run; implements ``StepProgress`` for the sources."""

    def __init__(
        self,
        sink: Sink,
        project_id: str,
        snapshot_id: str,
        *,
        clock: Clock | None = None,
        min_interval: float = 0.1,
        expected: Expected | None = None,
    ) -> None:
        self._sink = sink
        self.project_id = project_id
        self.snapshot_id = snapshot_id
        self._clock = clock or SystemClock()
        self._min_interval = min_interval
        self._rate = RateEstimator(self._clock)
        self.step_number = 0
        self.message = ""
        self.done = 0.0
        self.total: float | None = None
        self.file_count: int | None = None
        self.total_bytes: int | None = None
        self._last_emit = float("-inf")
        self._finished = False
        self.expected = expected
        self._ranges = step_ranges(expected)
        self._high = 0.0  # the bar never goes back
        self._step_started = self._clock.monotonic()
        self._estimated_total = False  # ``total`` is last snapshot's count, not this one's
        self.queued = False
        self.retry: UploadRetry | None = None
        self.skipped_count: int | None = None
        self.skipped: dict[str, int] | None = None

    # -- StepProgress --------------------------------------------------------

    def set_message(self, message: str) -> None:
        if message != self.message:
            self.message = message
            self._emit(force=True)

    def set_total(self, total: float | None) -> None:
        if total is None and self._estimated_total:
            return  # keep expecting last time's count
        self.total = total
        self._estimated_total = False
        self._emit()

    def set_done(self, done: float) -> None:
        self.done = done
        self._emit()

    def advance(self, amount: float = 1) -> None:
        self.done += amount
        self._emit()

    # -- pipeline ------------------------------------------------------------

    def start_step(
        self, step_number: int, message: str, total: float | None = None, *, queued: bool = False
    ) -> None:
        self.retry = None
        self.step_number = step_number
        self.message = message
        self.done = 0.0
        self.queued = queued
        self._estimated_total = False
        if total is None and step_number == 3 and self.expected is not None:
            # Browsing a folder that does not say its size: expect last time's count.
            total = self.expected.entry_count or None
            self._estimated_total = total is not None
        self.total = total
        self._step_started = self._clock.monotonic()
        self._rate.reset(0.0)
        self._emit(force=True)

    def set_retry(self, retry: UploadRetry | None, message: str) -> None:
        """An upload retry in progress (None once the upload goes on), as a fact for
        clients and as the message for people."""
        self.retry = retry
        self.message = message
        self._emit(force=True)

    def set_counts(self, file_count: int | None, total_bytes: int | None) -> None:
        self.file_count = file_count
        self.total_bytes = total_bytes

    def set_skipped(self, count: int | None, by_kind: dict[str, int] | None) -> None:
        """Entries left out; carried by the terminal event."""
        self.skipped_count, self.skipped = count, by_kind

    def complete(self, snapshot_url: str) -> None:
        self._finish(Step.COMPLETED, 6, 100, "Snapshot generated successfully!", url=snapshot_url)

    def fail(self, error: str) -> None:
        message = "Failed to generate snapshot"
        self._finish(Step.FAILED, self.step_number, self.overall(), message, error=error)

    def cancelled(self) -> None:
        self._finish(
            Step.CANCELLED, self.step_number, self.overall(), "Snapshot cancelled by user"
        )

    # -- internals -----------------------------------------------------------

    def overall(self) -> int:
        if self.step_number not in self._ranges:
            return 0
        lo, hi = self._ranges[self.step_number]
        value = lo + (hi - lo) * self._fraction()
        self._high = max(self._high, value)
        return int(self._high)

    def _fraction(self) -> float:
        """How far into the current step: by work when its total is known, else by time."""
        if self.queued:
            return 0.0
        if self.total:
            cap = _ESTIMATE_CAP if self._estimated_total else 1.0
            return min(self.done / self.total, cap)
        expected = self._expected_duration(self.step_number)
        if expected:
            elapsed = self._clock.monotonic() - self._step_started
            return min(elapsed / expected, _ESTIMATE_CAP)
        if self.step_number == 3:
            return _UNKNOWN_TOTAL_CAP * self.done / (self.done + _UNKNOWN_TOTAL_HALF)
        return 0.0

    def _expected_duration(self, step_number: int) -> float | None:
        if self.expected is None or not self.expected.timed:
            return None
        return self.expected.step_durations.get(step_number, 0.0) * self._scale()

    def _scale(self) -> float:
        """This run's size against the last one's (1 while unknown)."""
        expected = self.expected
        if expected is None or not expected.entry_count:
            return 1.0
        current: float | None = None
        if self.step_number == 3 and self.total and not self._estimated_total:
            current = self.total
        elif self.step_number >= 4 and self.file_count is not None:
            current = self.file_count + (expected.entry_count - (expected.file_count or 0))
        if not current:
            return 1.0
        lo, hi = _SCALE_LIMITS
        return min(max(current / expected.entry_count, lo), hi)

    def _eta(self, rate: float | None) -> float | None:
        """Seconds until the whole snapshot ends; None while that cannot be told."""
        if self.queued or self.step_number not in RUNNING_STEPS:
            return None
        current: float | None = None
        if self.total and rate is not None and rate > 0:
            current = max(self.total - self.done, 0) / rate
        expected = self._expected_duration(self.step_number)
        if expected is not None:
            if current is None:
                current = max(expected * (1 - self._fraction()), 0.0)
            later = sum(
                self._expected_duration(n) or 0.0 for n in RUNNING_STEPS if n > self.step_number
            )
            return round(current + later, 1)
        # No history: only the current step can be told, and only from its own rate.
        if current is None or self._estimated_total:
            return None
        return round(current, 1)

    def _emit(self, force: bool = False) -> None:
        """Publish the state, at most every ``min_interval`` unless ``force``."""
        if self._finished:
            return
        if not force and self._clock.monotonic() - self._last_emit < self._min_interval:
            return
        rate = self._rate.sample(self.done)
        self._publish(
            ProgressEvent(
                project_id=self.project_id,
                snapshot_id=self.snapshot_id,
                step=STEP_NAMES.get(self.step_number, Step.WAITING),
                step_number=max(self.step_number, 1),
                progress=self.overall(),
                message=self.message,
                timestamp=0.0,
                file_count=self.file_count,
                total_bytes=self.total_bytes,
                step_done=self.done,
                # An estimate the folder outgrew: say at least what was found.
                step_total=max(self.total, self.done) if self.total else self.total,
                rate=round(rate, 1) if rate is not None else None,
                eta_seconds=self._eta(rate),
                queued=self.queued,
                retry=self.retry,
            )
        )

    def _finish(
        self,
        step: Step,
        step_number: int,
        progress: int,
        message: str,
        *,
        url: str | None = None,
        error: str | None = None,
    ) -> None:
        if self._finished:
            return
        self._finished = True
        self._publish(
            ProgressEvent(
                project_id=self.project_id,
                snapshot_id=self.snapshot_id,
                step=step,
                step_number=max(step_number, 1),
                progress=progress,
                message=message,
                timestamp=0.0,
                file_count=self.file_count,
                total_bytes=self.total_bytes,
                snapshot_url=url,
                error=error,
                step_done=self.done if step is not Step.COMPLETED else None,
                step_total=self.total if step is not Step.COMPLETED else None,
                skipped_count=self.skipped_count,
                skipped=self.skipped,
            )
        )

    def _publish(self, event: ProgressEvent) -> None:
        self._last_emit = self._clock.monotonic()
        self._sink(event)
