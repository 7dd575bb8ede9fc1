"""Step 1 of a Syncthing snapshot: request a scan and follow it until the folder is idle.

The folder has no watcher and no rescan interval, so Syncthing's index is only
as fresh as its last scan: every snapshot asks for one. ``POST /rest/db/scan``
answers only when that scan is over, so it runs in a helper thread while this
thread long-polls ``/rest/events`` for ``StateChanged`` and ``FolderScanProgress``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from vidsync.clock import Clock
from vidsync.models import human_size
from vidsync.snapshot.source import CancelToken, SourceError, StepProgress
from vidsync.snapshot.syncthing.rest import (
    Event,
    SyncthingApiError,
    SyncthingError,
    SyncthingRest,
)

EVENT_TYPES = ("StateChanged", "FolderScanProgress")
# Long-poll length: also how quickly a cancel is noticed.
POLL_SECONDS = 1
# After the scan's answer, Syncthing may still need a moment to report idle.
_ANSWER_GRACE = 2.0

# Every state of Syncthing 1.19's folder model; only "idle" means the index is settled.
STATE_MESSAGES: dict[str, str] = {
    "idle": "Syncthing scan finished",
    "scanning": "Syncthing is scanning the folder...",
    "scan-waiting": "Waiting for Syncthing to start the scan (other folders first)...",
    "sync-waiting": "Waiting for Syncthing to finish syncing...",
    "sync-preparing": "Waiting for Syncthing to finish syncing...",
    "syncing": "Waiting for Syncthing to finish syncing...",
    "cleaning": "Waiting for Syncthing to clean up old versions...",
    "clean-waiting": "Waiting for Syncthing to clean up old versions...",
    "error": "Syncthing reports an error",
    "unknown": "Waiting for Syncthing to start the folder...",
}


def folder_error(folder_id: str, path: str, text: str) -> SourceError:
    """A user-facing error for Syncthing's own error ``text`` about a folder."""
    if "path missing" in text or "not a directory" in text:
        fix = "restore the folder there, or delete this project if the folder moved"
    elif "permission" in text:
        fix = "give the user running Syncthing read access to the folder"
    else:
        fix = "fix what Syncthing reports, then start the snapshot again"
    return SourceError(f'Syncthing cannot scan folder "{folder_id}" ({path}): {text}: {fix}')


class _ScanRequest(threading.Thread):
    """``POST /rest/db/scan`` in the background; ``done`` is set when it answers."""

    def __init__(self, rest: SyncthingRest, folder_id: str, timeout: float) -> None:
        super().__init__(name=f"syncthing-scan-{folder_id}", daemon=True)
        self._rest = rest
        self._folder_id = folder_id
        self._timeout = timeout
        self.done = threading.Event()
        self.error: SyncthingError | None = None

    def run(self) -> None:
        try:
            self._rest.scan(self._folder_id, timeout=self._timeout)
        except SyncthingError as exc:
            self.error = exc
        except Exception as exc:  # e.g. the client closed at shutdown: never crash the thread
            self.error = SyncthingError(f"the scan request failed: {type(exc).__name__}: {exc}")
        finally:
            self.done.set()


class _Reporter:
    """Turns states and FolderScanProgress into step progress (bytes hashed of total)."""

    def __init__(self, progress: StepProgress, clock: Clock) -> None:
        self._progress = progress
        self._clock = clock
        self._last: tuple[float, int] | None = None
        self.state = "unknown"
        self.hashed: tuple[int, int] | None = None

    def show_state(self, state: str, *, live: bool = False) -> None:
        if live and state == "scanning":
            # A scan seen starting is the baseline of the first rate estimate.
            self._last = (self._clock.monotonic(), 0)
        self.state = state
        if state != "scanning" or self.hashed is None:
            default = f"Waiting for Syncthing ({state})..."
            self._progress.set_message(STATE_MESSAGES.get(state, default))

    def scan_progress(self, data: dict[str, Any]) -> None:
        current, total = int(data.get("current", 0)), int(data.get("total", 0))
        now = self._clock.monotonic()
        rate = float(data.get("rate") or 0.0)
        # Syncthing 1.19 often reports rate 0: derive it from the last report.
        if rate <= 0 and self._last is not None and now > self._last[0]:
            rate = max(0.0, (current - self._last[1]) / (now - self._last[0]))
        self._last = (now, current)
        self.hashed = (current, total)
        self._progress.set_total(total)
        self._progress.set_done(min(current, total))
        text = f"Syncthing is scanning: {human_size(current)} of {human_size(total)} hashed"
        if rate > 0:
            text += f" ({human_size(int(rate))}/s)"
        self._progress.set_message(text + "...")

    def finish(self) -> None:
        if self.hashed is not None:
            self._progress.set_done(self.hashed[1])
        self._progress.set_message(STATE_MESSAGES["idle"])

    def describe(self) -> str:
        text = f"state {self.state}"
        if self.hashed is not None:
            text += f", {human_size(self.hashed[0])} of {human_size(self.hashed[1])} hashed"
        return text


def last_event_id(rest: SyncthingRest) -> int:
    """Where to start following; the first call also creates the filtered subscription."""
    events = rest.events(0, timeout=0, types=EVENT_TYPES, limit=1)
    return events[-1].id if events else 0


def wait_for_scan(
    rest: SyncthingRest,
    folder_id: str,
    path: str,
    *,
    timeout: float,
    progress: StepProgress,
    cancel: CancelToken,
    clock: Clock,
) -> None:
    """Scan ``folder_id`` and return once it is idle; raise SourceError on failure/timeout."""
    deadline = clock.monotonic() + timeout
    # Subscribe before the scan starts, so none of its events are missed.
    since = last_event_id(rest)
    reporter = _Reporter(progress, clock)
    reporter.show_state(str(rest.db_status(folder_id).get("state", "unknown")))
    # The request outlives a timed-out wait only until Syncthing's scan ends.
    scan = _ScanRequest(rest, folder_id, timeout=timeout + 60)
    scan.start()

    def check_status() -> str:
        status = rest.db_status(folder_id)
        state = str(status.get("state", "unknown"))
        reporter.show_state(state)
        if state == "error":
            raise folder_error(folder_id, path, str(status.get("error") or "unknown error"))
        return state

    while True:
        cancel.check()
        if scan.done.is_set():
            if isinstance(scan.error, SyncthingApiError) and scan.error.status_code == 500:
                raise folder_error(folder_id, path, scan.error.text)
            if scan.error is not None:
                raise scan.error
            if check_status() == "idle":
                reporter.finish()
                return
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            raise SourceError(
                f'Syncthing did not finish scanning folder "{folder_id}" within {timeout:g} s '
                f"({reporter.describe()}): for a very large folder raise "
                "VIDSYNC_SYNCTHING_SCAN_TIMEOUT (seconds)"
            )
        events = rest.events(since, timeout=POLL_SECONDS, types=EVENT_TYPES)
        if events and events[0].id != since + 1:
            # Events were dropped (Syncthing's buffer overflowed, or it restarted):
            # the status tells where the folder is now.
            check_status()
        for event in events:
            since = event.id
            if event.data.get("folder") == folder_id:
                _apply(event, reporter, check_status, scan)


def _apply(
    event: Event,
    reporter: _Reporter,
    check_status: Callable[[], str],
    scan: _ScanRequest,
) -> None:
    if event.type == "FolderScanProgress":
        reporter.scan_progress(event.data)
        return
    state = str(event.data.get("to", "unknown"))
    reporter.show_state(state, live=True)
    if state == "error":
        check_status()  # raises with Syncthing's error text
    elif state == "idle":
        # The scan's HTTP answer follows the idle state closely: wait for it here
        # rather than in another long poll.
        scan.done.wait(_ANSWER_GRACE)
