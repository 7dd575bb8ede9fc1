"""The web UI in Debian's Chromium, against a real agent process on a free port.

Snapshots are slowed down with VIDSYNC_THROTTLE (seconds per entry browsed) so
each step can be watched; nothing here sleeps for a fixed time.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from browser.ui import (
    MODAL,
    ConsoleWatch,
    UiAgent,
    attr_history,
    create_in_ui,
    create_project,
    fast_retries,
    open_projects_page,
    row,
    screenshot,
    subscribers,
    ui_log,
    wait_modal_state,
)
from support.agent import wait_until
from support.trees import make_flat_tree, make_tree

pytestmark = pytest.mark.browser

THROTTLE = "0.01"
NETWORK_ERROR = r"Failed to load resource: net::ERR_"
BLUE, GREEN, RED = "rgb(37, 99, 235)", "rgb(22, 163, 74)", "rgb(220, 38, 38)"


def expected_dots(step: int, state: str) -> list[str]:
    dots = []
    for n in range(1, 7):
        if n < step or (n == step and state == "completed"):
            dots.append("done")
        elif n == step:
            dots.append("active" if state == "running" else state)
        else:
            dots.append("pending")
    return dots


def fill_color(page: Page) -> str:
    color: str = page.locator(f"{MODAL} [data-part=fill]").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    return color


def test_create_project_shows_six_steps_live_and_closes_by_itself(
    page: Page, ui_agent: UiAgent, tmp_path: Path, artifacts: Path
) -> None:
    agent = ui_agent(VIDSYNC_THROTTLE=THROTTLE)
    tree = make_flat_tree(tmp_path / "spring", 300, per_dir=30, size=10)
    open_projects_page(page, agent)
    expect(page.locator("#projects-empty")).to_be_visible()

    create_in_ui(page, "Spring campaign", tree)
    modal = page.locator(MODAL)
    # The modal rides on the page's one multiplexed SSE connection, open and live.
    expect(modal.locator("[data-part=conn]")).to_have_attribute("data-conn", "stable")
    expect(modal.locator("[data-part=conn]")).to_contain_text("Live")
    assert subscribers(agent) == 1
    expect(modal.locator("[data-part=close]")).to_be_hidden()
    expect(modal.get_by_role("button", name="Cancel snapshot")).to_be_visible()

    # Mid-progress: browsing, blue bar, dots 1-2 done and 3 active.
    page.wait_for_function(
        "() => { const m = document.getElementById('progress-modal');"
        " return m.dataset.stepNumber === '3' && Number(m.dataset.eventId) >= 6; }"
    )
    assert fill_color(page) == BLUE
    screenshot(page, artifacts, "modal-mid-progress.png")

    wait_modal_state(page, "completed")
    completed_at = next(s["t"] for s in ui_log(page)["snaps"] if s["state"] == "completed")
    expect(modal).to_be_hidden(timeout=15_000)  # auto-close

    log = ui_log(page)
    snaps = [s for s in log["snaps"] if s["eventId"] > 0]
    # all six steps, in order, none twice; event ids only rise
    assert [int(v) for v in attr_history(page, "modal", "data-step-number") if v != "0"] == [
        1, 2, 3, 4, 5, 6]
    ids = [int(v) for v in attr_history(page, "modal", "data-event-id") if v != "0"]
    assert ids == sorted(set(ids)) and len(ids) >= 6
    # the bar goes from 0 to 100 and never back
    values = [int(v) for v in attr_history(page, "bar", "aria-valuenow")]
    assert values[0] == 0 and values[-1] == 100 and values == sorted(values)
    assert values.count(100) == 1
    # the step indicator and "Step N of 6" agree with the step, at every moment seen
    for s in snaps:
        assert s["dots"] == expected_dots(s["step"], s["state"]), s
        assert s["stepCount"] == f"Step {s['step']} of 6", s
        assert s["closeVisible"] == (s["state"] != "running"), s
    # file count, size and snapshot URL as the agent reports them
    final = httpx.get(f"{agent.url}/api/v1/projects").json()["projects"][0]
    snapshot = final["latestSnapshot"]
    assert snapshot["state"] == "completed" and snapshot["fileCount"] == 300
    expect(modal.locator("[data-part=files]")).to_have_text("300")
    expect(modal.locator("[data-part=size]")).to_have_text("2.9 KiB")
    expect(modal.locator("[data-part=url]")).to_have_text(snapshot["snapshotUrl"])
    # closed by itself two seconds after success: not before 1.5 s by the page's clock
    closed_at = next(s["t"] for s in log["snaps"] if s["t"] > completed_at and not s["open"])
    assert closed_at - completed_at >= 1500
    # the row shows the result
    expect(row(page, final["projectId"])).to_have_attribute("data-state", "completed")
    expect(row(page, final["projectId"])).to_contain_text("300 files")
    expect(page.locator(".toast")).to_have_count(0)  # the modal said it already


def test_success_keeps_url_and_close_button_while_pointed_at(
    page: Page, ui_agent: UiAgent, tmp_path: Path, artifacts: Path
) -> None:
    agent = ui_agent(VIDSYNC_THROTTLE=THROTTLE)
    pid = create_project(agent, "Trailer", make_flat_tree(tmp_path / "trailer", 60, size=100))
    open_projects_page(page, agent)
    row(page, pid).get_by_role("button", name="Snapshot now").click()
    modal = page.locator(MODAL)
    expect(modal).to_be_visible()
    modal.locator("[data-part=title]").hover()  # auto-close waits while pointed at
    wait_modal_state(page, "completed")
    completed_at = next(s["t"] for s in ui_log(page)["snaps"] if s["state"] == "completed")
    # Past the two seconds after which it would close if nobody pointed at it.
    page.wait_for_function(f"() => performance.now() > {completed_at + 2500}")
    expect(modal).to_be_visible()
    url = httpx.get(f"{agent.url}/api/v1/projects/{pid}").json()["latestSnapshot"]["snapshotUrl"]
    expect(modal.locator("[data-part=url]")).to_have_text(url)
    expect(modal.locator("[data-part=success]")).to_be_visible()
    expect(modal.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(modal.locator("[data-part=steps] li[data-status=done]")).to_have_count(6)
    expect(modal.locator("[data-part=step-count]")).to_have_text("Step 6 of 6")
    expect(modal.locator("[data-part=files]")).to_have_text("60")
    expect(modal.locator("[data-part=size]")).to_have_text("5.9 KiB")
    assert fill_color(page) == GREEN
    expect(modal.get_by_role("button", name="Cancel snapshot")).to_be_hidden()
    screenshot(page, artifacts, "modal-success.png")
    modal.get_by_role("button", name="Close", exact=True).click()
    expect(modal).to_be_hidden()
    # focus goes back to where the user was
    expect(row(page, pid).get_by_role("button", name=re.compile("Snapshot now"))).to_be_focused()


def test_failure_shows_error_red_bar_and_esc_closes_only_when_ended(
    page: Page, ui_agent: UiAgent, tmp_path: Path, artifacts: Path
) -> None:
    agent = ui_agent(VIDSYNC_THROTTLE=THROTTLE)
    pid = create_project(agent, "Broken store", make_flat_tree(tmp_path / "b", 150, per_dir=30))
    # The manifest cannot be stored: a file where the project's store folder goes.
    blocker = agent.data_dir / "snapshots" / pid
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    open_projects_page(page, agent)
    row(page, pid).get_by_role("button", name="Snapshot now").click()
    modal = page.locator(MODAL)
    page.wait_for_function("document.getElementById('progress-modal').dataset.stepNumber === '3'")
    page.keyboard.press("Escape")  # running: Esc does not close it
    expect(modal).to_be_visible()
    expect(modal.locator("[data-part=close]")).to_be_hidden()

    wait_modal_state(page, "failed")
    expect(modal.locator("[data-part=error]")).to_be_visible()
    record = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots").json()["snapshots"][0]
    assert record["state"] == "failed" and record["error"]
    expect(modal.locator("[data-part=error-text]")).to_have_text(record["error"])
    expect(modal.locator("[data-part=success]")).to_be_hidden()
    expect(modal.locator("[data-part=step-count]")).to_have_text("Step 5 of 6")
    dots = modal.locator("[data-part=steps] li")
    assert [dots.nth(i).get_attribute("data-status") for i in range(6)] == expected_dots(
        5, "failed")
    assert fill_color(page) == RED
    value = int(modal.get_by_role("progressbar").get_attribute("aria-valuenow") or "0")
    assert 75 <= value < 100  # a failure keeps the progress it had
    expect(modal.locator("[data-part=close]")).to_be_visible()
    expect(modal.get_by_role("button", name="Cancel snapshot")).to_be_hidden()
    screenshot(page, artifacts, "modal-failure.png")
    page.keyboard.press("Escape")
    expect(modal).to_be_hidden()
    expect(row(page, pid)).to_have_attribute("data-state", "failed")
    expect(row(page, pid)).to_contain_text(record["error"])


def test_cancel_while_running_then_close_button(
    page: Page, ui_agent: UiAgent, tmp_path: Path
) -> None:
    agent = ui_agent(VIDSYNC_THROTTLE=THROTTLE)
    pid = create_project(agent, "Long one", make_flat_tree(tmp_path / "l", 1500, per_dir=100))
    open_projects_page(page, agent)
    row(page, pid).get_by_role("button", name="Snapshot now").click()
    modal = page.locator(MODAL)
    page.wait_for_function("document.getElementById('progress-modal').dataset.stepNumber === '3'")
    modal.get_by_role("button", name="Cancel snapshot").click()
    wait_modal_state(page, "cancelled")
    expect(modal.locator("[data-part=title]")).to_have_text("Cancelled")
    expect(modal.locator("[data-part=error]")).to_be_hidden()
    modal.get_by_role("button", name="Done").click()
    expect(modal).to_be_hidden()
    expect(row(page, pid)).to_have_attribute("data-state", "cancelled")


def test_create_form_shows_api_errors_next_to_the_field_and_delete_confirms(
    page: Page, ui_agent: UiAgent, tmp_path: Path, console: ConsoleWatch
) -> None:
    # The browser logs each 4xx answer as a console error; these ones are expected.
    console.allow(r"status of 40[09]")
    agent = ui_agent()
    folder = make_tree(tmp_path / "existing", {"a.mov": "x"})
    pid = create_project(agent, "Existing", folder)
    a_file = tmp_path / "note.txt"
    a_file.write_text("x")
    open_projects_page(page, agent)
    path_input = page.get_by_label("Local folder path")
    error = page.locator("#error-localPath")
    for value, message in [
        ("", "empty"),
        ("relative/folder", "not an absolute path"),
        (str(tmp_path / "missing"), "does not exist"),
        (str(a_file), "is a file"),
        (str(folder), "already the folder of project 'Existing'"),
    ]:
        path_input.fill(value)
        page.get_by_role("button", name="Create Project").click()
        expect(error).to_contain_text(message)
        expect(path_input).to_have_attribute("aria-invalid", "true")
        expect(path_input).to_be_focused()
        expect(page.locator(MODAL)).to_be_hidden()
    path_input.fill("/x")  # typing clears the error
    expect(error).to_be_empty()
    expect(path_input).not_to_have_attribute("aria-invalid", "true")

    # delete asks first; "Keep it" keeps it
    confirm = page.locator("#confirm-dialog")
    row(page, pid).get_by_role("button", name="Delete Existing").click()
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("Delete Existing?")
    expect(confirm).to_contain_text(str(folder))
    expect(confirm.locator("#confirm-running")).to_be_hidden()  # nothing runs to cancel
    confirm.get_by_role("button", name="Keep it").click()
    expect(confirm).to_be_hidden()
    expect(row(page, pid)).to_be_visible()
    row(page, pid).get_by_role("button", name="Delete Existing").click()
    confirm.get_by_role("button", name="Delete project").click()
    expect(row(page, pid)).to_have_count(0)
    expect(page.locator("#projects-empty")).to_be_visible()
    assert httpx.get(agent.url + "/api/v1/projects").json()["projects"] == []
    assert folder.is_dir()


def test_agent_killed_and_restarted_mid_snapshot(
    page: Page, ui_agent: UiAgent, tmp_path: Path, console: ConsoleWatch
) -> None:
    console.allow(NETWORK_ERROR)  # requests to the dead agent
    agent = ui_agent(VIDSYNC_THROTTLE=THROTTLE)
    tree = make_flat_tree(tmp_path / "big", 1500, per_dir=100)
    fast_retries(page, 200)
    resumes: list[str | None] = []  # Last-Event-ID of each stream request

    def on_request(request: Request) -> None:
        if "/api/v1/progress/stream" in request.url:
            resumes.append(request.headers.get("last-event-id"))

    page.on("request", on_request)
    open_projects_page(page, agent)
    create_in_ui(page, "Big", tree)
    modal = page.locator(MODAL)
    conn = modal.locator("[data-part=conn]")
    page.wait_for_function(
        "() => { const m = document.getElementById('progress-modal');"
        " return m.dataset.stepNumber === '3' && Number(m.dataset.eventId) >= 8; }"
    )
    seen_before = int(modal_event_id(page))
    agent.kill()
    # lost, then polling from the first failed reconnect while the stream is retried
    expect(conn).to_have_attribute("data-conn", re.compile("reconnecting|polling|offline"))
    # its polls get no answer either: the page says the agent is down, not just the stream
    expect(page.locator("#agent-status")).to_have_attribute("data-conn", "offline")
    expect(page.locator("#agent-status")).to_contain_text("Cannot reach the agent")
    ui_agent_again = ui_agent(data_dir=agent.data_dir, port=agent.port,
                              VIDSYNC_THROTTLE=THROTTLE)
    wait_modal_state(page, "failed")
    # Polling may bring the end before the stream is back: that waits for its backoff
    # (up to 30 x 200 ms).
    expect(conn).to_have_attribute("data-conn", "stable", timeout=20_000)
    expect(modal.locator("[data-part=error-text]")).to_have_text("interrupted: the agent stopped")

    pid = httpx.get(f"{ui_agent_again.url}/api/v1/projects").json()["projects"][0]["projectId"]
    stored = httpx.get(f"{ui_agent_again.url}/api/v1/projects/{pid}/snapshots").json()
    sid = stored["snapshots"][0]["snapshotId"]
    events = httpx.get(
        f"{ui_agent_again.url}/api/v1/projects/{pid}/snapshots/{sid}/events").json()["events"]
    # the modal showed each step once, in order, none lost, and ended on the
    # agent's own terminal event for this snapshot
    steps = [int(v) for v in attr_history(page, "modal", "data-step-number") if v != "0"]
    assert steps == sorted(set(e["stepNumber"] for e in events))
    assert steps == [1, 2, 3]
    ids = [int(v) for v in attr_history(page, "modal", "data-event-id") if v != "0"]
    assert ids == sorted(set(ids)) and ids[-1] == events[-1]["id"] > seen_before
    assert events[-1]["step"] == "failed"
    values = [int(v) for v in attr_history(page, "bar", "aria-valuenow")]
    assert values == sorted(values)
    # the first connection starts fresh; every reconnect resumes from the last id seen
    assert resumes[0] is None and len(resumes) >= 2
    assert all(r is not None and r.isdigit() for r in resumes[1:]), resumes
    states = [s["conn"] for s in ui_log(page)["snaps"]]
    assert "reconnecting" in states and "polling" in states and states[-1] == "stable"


def modal_event_id(page: Page) -> str:
    return page.locator(MODAL).get_attribute("data-event-id") or "0"


def test_polling_fallback_when_the_stream_fails_then_back_to_sse(
    page: Page, ui_agent: UiAgent, tmp_path: Path, console: ConsoleWatch
) -> None:
    console.allow(r"status of 503")
    agent = ui_agent(VIDSYNC_THROTTLE=THROTTLE, VIDSYNC_PROGRESS_POLL_INTERVAL="200")
    tree = make_flat_tree(tmp_path / "p", 300, per_dir=30)
    stream = re.compile(r"/api/v1/progress/stream")
    page.route(stream, lambda route: route.fulfill(status=503, body="stream unavailable"))
    fast_retries(page, 50)
    open_projects_page(page, agent, live=False)
    status = page.locator("#agent-status")
    expect(status).to_have_attribute("data-conn", "polling")
    expect(status).to_contain_text("checking every 0.2 s")
    create_in_ui(page, "Polled", tree)
    modal = page.locator(MODAL)
    expect(modal.locator("[data-part=conn]")).to_have_attribute("data-conn", "polling")
    wait_modal_state(page, "completed")
    values = [int(v) for v in attr_history(page, "bar", "aria-valuenow")]
    assert values == sorted(values) and values[-1] == 100
    steps = [int(v) for v in attr_history(page, "modal", "data-step-number") if v != "0"]
    assert steps == sorted(set(steps)) and steps[-1] == 6
    expect(modal.locator("[data-part=url]")).to_contain_text("file://")
    expect(modal.locator("[data-part=files]")).to_have_text("300")
    # the stream works again: the page goes back to it
    page.unroute(stream)
    expect(status).to_have_attribute("data-conn", "stable", timeout=20_000)
    assert subscribers(agent) == 1


def test_silent_connection_counts_as_dead(
    page: Page, ui_agent: UiAgent, console: ConsoleWatch
) -> None:
    console.allow(NETWORK_ERROR)
    agent = ui_agent(VIDSYNC_SSE_HEARTBEAT="0.5")
    fast_retries(page, 100)
    open_projects_page(page, agent)
    status = page.locator("#agent-status")
    assert agent.proc is not None
    os.kill(agent.proc.pid, signal.SIGSTOP)  # connection open, but nothing arrives
    try:
        expect(status).to_have_attribute("data-conn", re.compile("reconnecting|polling"),
                                         timeout=10_000)
    finally:
        os.kill(agent.proc.pid, signal.SIGCONT)
    expect(status).to_have_attribute("data-conn", "stable", timeout=20_000)


def test_two_projects_at_once_with_toasts_and_notifications(
    page: Page, ui_agent: UiAgent, tmp_path: Path
) -> None:
    agent = ui_agent(VIDSYNC_THROTTLE=THROTTLE)
    a = make_flat_tree(tmp_path / "a", 600, per_dir=50)
    b = make_flat_tree(tmp_path / "b", 120, per_dir=30)
    page.context.grant_permissions(["notifications"], origin=agent.url)
    page.add_init_script(
        """(() => {
          const shown = [];
          Object.defineProperty(window, "__notifications", { value: shown });
          const Real = window.Notification;
          window.Notification = new Proxy(Real, {
            construct(target, args) { shown.push(args[0]); return new target(...args); },
          });
          // Toasts leave after 8 s, which a slow machine can spend between the two
          // snapshots' ends: keep the title of every toast shown.
          const toasts = [];
          Object.defineProperty(window, "__toasts", { value: toasts });
          new MutationObserver((records) => {
            for (const r of records) for (const n of r.addedNodes) {
              if (n.classList && n.classList.contains("toast")) {
                toasts.push(n.querySelector("strong").textContent);
              }
            }
          }).observe(document, { childList: true, subtree: true });
        })();"""
    )
    open_projects_page(page, agent)
    modal = page.locator(MODAL)
    create_in_ui(page, "Alpha", a)
    modal.get_by_role("button", name="Run in background").click()
    expect(modal).to_be_hidden()
    create_in_ui(page, "Beta", b)
    modal.get_by_role("button", name="Run in background").click()
    expect(modal).to_be_hidden()
    projects = {p["name"]: p["projectId"]
                for p in httpx.get(agent.url + "/api/v1/projects").json()["projects"]}
    alpha, beta = projects["Alpha"], projects["Beta"]
    for pid in (alpha, beta):
        expect(row(page, pid)).to_have_attribute("data-state", "completed", timeout=30_000)
    expect(row(page, alpha)).to_contain_text("600 files")
    expect(row(page, beta)).to_contain_text("120 files")
    wait_until(lambda: len(page.evaluate("window.__toasts")) >= 2)
    assert sorted(page.evaluate("window.__toasts")) == [
        "Snapshot of Alpha completed", "Snapshot of Beta completed"]
    assert sorted(page.evaluate("window.__notifications")) == [
        "Snapshot of Alpha completed", "Snapshot of Beta completed"]
    # Each row followed its own snapshot: both were live at once, each value only rose.
    history = ui_log(page)["rows"]
    both_live = [h for h in history
                 if all(h["rows"].get(p, {}).get("value") is not None for p in (alpha, beta))]
    assert both_live, "the two snapshots never showed progress at the same time"
    for pid in (alpha, beta):
        values = [h["rows"][pid]["value"] for h in history
                  if h["rows"].get(pid, {}).get("value") is not None]
        assert values and values == sorted(values)
    assert subscribers(agent) == 1  # one multiplexed connection for the whole page


def test_progress_client_module_stops_on_terminal(
    page: Page, ui_agent: UiAgent, tmp_path: Path
) -> None:
    """The client module on its own, on a per-project stream: it stops after the
    terminal event, and a resume from that event gets 204 and stays stopped."""
    agent = ui_agent()
    started = httpx.post(agent.url + "/api/v1/projects/with-snapshot",
                         json={"localPath": str(make_tree(tmp_path / "t", {"a": "1"}))}).json()
    open_projects_page(page, agent)
    result = page.evaluate(
        """async ([url]) => {
          const { ProgressClient } = await import("/ui/progress-client.js");
          const final = (e) => ["completed", "failed", "cancelled"].includes(e.step);
          const run = (lastEventId) => new Promise((resolve) => {
            const client = new ProgressClient({ url, isFinal: final });
            const steps = [];
            const states = [];
            if (lastEventId) client.lastEventId = lastEventId;
            client.addEventListener("progress", (e) => steps.push(e.detail.step));
            client.addEventListener("statechange", (e) => {
              states.push(e.detail.state);
              if (e.detail.state !== "disconnected") return;
              resolve({ steps, states, last: client.lastEventId });
            });
            client.start();
          });
          const first = await run(null);
          const again = await run(first.last);
          return { first, again };
        }""",
        [f"{agent.url}{started['streamUrl']}"],
    )
    assert result["first"]["steps"][-1] == "completed"
    assert result["first"]["states"] == ["connected", "disconnected"]
    assert result["again"] == {"steps": [], "states": ["disconnected"],
                               "last": result["first"]["last"]}
