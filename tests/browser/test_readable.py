"""Progress people can read (issue 12), in Debian's Chromium against a real agent.

Honest bar and ETA, the same backoff in both clients, inline progress and the
transfers tray, live updates that leave clicks, focus and selection alone,
accessible steps, and a page that holds up at 360 px and in the dark.
"""

from __future__ import annotations

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from browser.ui import (
    MODAL,
    ConsoleWatch,
    UiAgent,
    create_in_ui,
    create_project,
    open_projects_page,
    row,
    ui_log,
    wait_modal_state,
)
from support.agent import AgentProcess, wait_until
from support.trees import make_flat_tree, make_tree
from vidsync.client import (
    AsyncAgentClient,
    Backoff,
    ClientConfig,
    ConnectionState,
    ConnectionStatus,
    ProgressClient,
)
from vidsync.clock import FakeClock

pytestmark = pytest.mark.browser

# The README's screenshots are refreshed only on request (VIDSYNC_SCREENSHOTS=docs/screenshots):
# a test run must not change the checkout.
_SHOTS = os.environ.get("VIDSYNC_SCREENSHOTS")
SCREENSHOTS = Path(_SHOTS) if _SHOTS else None
TRAY = "#transfers"


def snapshot_done(agent: AgentProcess, project_id: str, count: int = 1) -> list[dict[str, Any]]:
    """Wait until ``count`` snapshots of the project have ended; their records."""
    records: list[dict[str, Any]] = []

    def ended() -> bool:
        nonlocal records
        answer = httpx.get(f"{agent.url}/api/v1/projects/{project_id}/snapshots").json()
        records = answer["snapshots"]
        return len(records) >= count and all(r["state"] != "running" for r in records)

    wait_until(ended, timeout=60)
    return records


def start(agent: AgentProcess, project_id: str) -> str:
    r = httpx.post(f"{agent.url}/api/v1/projects/{project_id}/snapshot")
    assert r.status_code == 202, r.text
    snapshot_id: str = r.json()["snapshotId"]
    return snapshot_id


def wait_row_events(page: Page, more: int) -> None:
    """Wait until the list has changed ``more`` more times (live events in place)."""
    seen = len(ui_log(page)["rows"])
    page.wait_for_function("n => window.__uiLog.rows.length >= n", arg=seen + more)


# -- 1. the honest bar ---------------------------------------------------------------


def test_second_snapshot_shows_expected_files_and_eta_from_the_start(
    page: Page, ui_agent: UiAgent, tmp_path: Path
) -> None:
    agent = ui_agent(VIDSYNC_THROTTLE="0.01")
    folder = make_flat_tree(tmp_path / "footage", 300, per_dir=30)
    open_projects_page(page, agent)
    create_in_ui(page, "Footage", folder)
    modal = page.locator(MODAL)
    # A first snapshot has no history: it says "estimating" while browsing.
    page.wait_for_function(
        "() => document.getElementById('progress-modal').dataset.stepNumber === '3'")
    expect(modal.locator("[data-part=eta]")).to_have_text("estimating...")
    wait_modal_state(page, "completed")
    expect(modal).to_be_hidden(timeout=15_000)
    pid = httpx.get(agent.url + "/api/v1/projects").json()["projects"][0]["projectId"]

    start(agent, pid)
    live = row(page, pid).locator("[data-part=live]")
    # From the first event on, the whole snapshot has an ETA (last time's step times)...
    expect(live.locator(".live-eta")).to_contain_text(re.compile(r"left|Almost done"))
    # ...and browsing counts against last time's 310 entries (300 files, 10 folders).
    expect(live.locator(".live-work")).to_contain_text(re.compile(r"of ~310 entries"))
    expect(live).to_contain_text("Step 3 of 6")
    sid = snapshot_done(agent, pid, 2)[0]["snapshotId"]
    events = httpx.get(f"{agent.url}/api/v1/projects/{pid}/snapshots/{sid}/events").json()["events"]
    running = [e for e in events if e["step"] not in ("completed", "failed", "cancelled")]
    assert running and all(e["etaSeconds"] is not None for e in running)
    browsing = [e for e in running if e["stepNumber"] == 3]
    assert browsing and all(e["stepTotal"] == 310 for e in browsing)
    # Browsing is nearly all of the time here, so it owns nearly all of the bar.
    assert max(e["progress"] for e in browsing) >= 80


# -- 2. the same backoff in both clients ------------------------------------------------


FAST = {"delaysMs": [10, 20, 40, 80, 150, 300], "jitter": 0.2}


async def python_delays(config: dict[str, Any], count: int) -> tuple[list[float], list[str]]:
    """The Python client against a stream that always fails, on a fake clock."""
    clock = FakeClock()
    timeline: list[str] = []
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)
        await anyio.lowlevel.checkpoint()

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stream"):
            return httpx.Response(503, json={"detail": "down"})
        timeline.append("poll")
        return httpx.Response(200, json={"projectId": "p", "step": "idle", "stepNumber": 0,
                                         "progress": 0, "message": "", "id": 0})

    settings = ClientConfig.from_json(config)
    async with AsyncAgentClient("http://agent.test", transport=httpx.MockTransport(handle)) as api:
        client = ProgressClient(api, "p", config=settings,
                                backoff=Backoff.from_config(settings, random=lambda: 0.5),
                                clock=clock, sleep=sleep)

        def on_state(status: ConnectionStatus) -> None:
            if status.state is ConnectionState.RECONNECTING and status.retry_in is not None:
                delays.append(status.retry_in)
                timeline.append("retry")
                if len(delays) == count:
                    client.stop()

        client.add_state_callback(on_state)
        with anyio.fail_after(10):
            await client.run()
    return delays, timeline


JS_DELAYS = """async ([config, count]) => {
  const { ProgressClient, backoffDelay } = await import("/ui/progress-client.js");
  const { mergeConfig } = await import("/ui/config.js");
  const merged = mergeConfig(config);
  const timeline = [];
  const delays = await new Promise((resolve) => {
    const seen = [];
    const client = new ProgressClient({
      url: "/ui/no-such-stream",
      poll: async () => { timeline.push("poll"); return []; },
      backoff: merged.backoff,
      pollIntervalMs: 60000,
      random: () => 0.5,
    });
    let last = null;
    client.addEventListener("statechange", (e) => {
      if (e.detail.nextAttemptAt === null || e.detail.nextAttemptAt === last) return;
      last = e.detail.nextAttemptAt;
      seen.push(e.detail.retryInMs);
      timeline.push("retry");
      if (seen.length === count) { client.stop(); resolve(seen); }
    });
    client.start();
  });
  const fallback = mergeConfig({ pollIntervalMs: 1000 }).backoff;
  const nominal = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, fallback, () => 0.5));
  return { delays, timeline, nominal };
}"""


def test_js_and_python_clients_back_off_alike_and_poll_from_the_first_failure(
    page: Page, ui_agent: UiAgent, console: ConsoleWatch
) -> None:
    console.allow(r"status of 503")
    agent = ui_agent()
    served = httpx.get(agent.url + "/api/v1/config").json()
    config = {**served, "backoff": FAST}
    page.route("**/ui/no-such-stream", lambda route: route.fulfill(status=503, body="down"))
    open_projects_page(page, agent)
    js = page.evaluate(JS_DELAYS, [config, 8])
    # In a thread of its own: Playwright's sync API holds this thread's event loop.
    with ThreadPoolExecutor(1) as pool:
        py_delays, py_timeline = pool.submit(anyio.run, python_delays, config, 8).result(30)

    # 10, 20, 40 ms... not 20, 40, 80: the first wait is the first step of the schedule.
    assert js["delays"] == [10, 20, 40, 80, 150, 300, 300, 300]
    assert [round(d * 1000) for d in py_delays] == js["delays"]
    # Both poll right after the first failed attempt, before the second one.
    for timeline in (js["timeline"], py_timeline):
        second_retry = [i for i, kind in enumerate(timeline) if kind == "retry"][1]
        assert "poll" in timeline[:second_retry], timeline
    # An agent that serves no schedule: both fall back to the same 1, 2, 4, 8, 15, 30 s.
    old = ClientConfig.from_json({"pollIntervalMs": 1000})
    python_nominal = Backoff.from_config(old, random=lambda: 0.5).schedule(8)
    assert js["nominal"] == [round(d * 1000) for d in python_nominal]
    assert js["nominal"] == [1000, 2000, 4000, 8000, 15000, 30000, 30000, 30000]


def test_no_lost_connection_is_claimed_before_the_first_connection(
    page: Page, ui_agent: UiAgent, console: ConsoleWatch
) -> None:
    console.allow(r"status of 503")
    agent = ui_agent(VIDSYNC_PROGRESS_POLL_INTERVAL="200")
    page.route(re.compile(r"/api/v1/progress/stream"),
               lambda route: route.fulfill(status=503, body="no stream"))
    page.add_init_script("""
      window.__statusTexts = [];
      new MutationObserver(() => {
        const s = document.getElementById("agent-status");
        if (s) window.__statusTexts.push(s.textContent);
      }).observe(document, { subtree: true, childList: true, characterData: true });
    """)
    open_projects_page(page, agent, live=False)
    status = page.locator("#agent-status")
    expect(status).to_have_attribute("data-conn", "polling")
    texts: list[str] = page.evaluate("window.__statusTexts")
    assert not any("lost" in t.lower() for t in texts), texts


# -- 3 and 4. inline progress, tray, updates in place -------------------------------------


def test_running_row_updates_in_place_keeping_click_focus_and_selection(
    page: Page, ui_agent: UiAgent, tmp_path: Path
) -> None:
    agent = ui_agent(VIDSYNC_THROTTLE="0.02")
    pid = create_project(agent, "Long shoot", make_flat_tree(tmp_path / "shoot", 600, per_dir=50))
    open_projects_page(page, agent)
    the_row = row(page, pid)
    page.evaluate("id => { window.__row = document.querySelector(`[data-project-id='${id}']`); }",
                  pid)
    the_row.get_by_role("button", name=re.compile("^Snapshot now")).click()
    page.locator(MODAL).get_by_role("button", name="Run in background").click()
    live = the_row.locator("[data-part=live]")
    expect(live).to_contain_text("Browsing files")
    expect(live.get_by_role("progressbar")).to_be_visible()
    expect(live).to_contain_text(re.compile(r"Step 3 of 6"))

    # A click held across several live events still toggles the checkbox.
    box = the_row.get_by_role("checkbox")
    box.hover()
    page.mouse.down()
    wait_row_events(page, 3)
    page.mouse.up()
    expect(box).to_be_checked()

    # Focus survives, and Tab goes on from where it was (not from <body>).
    box.focus()
    wait_row_events(page, 3)
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => ({ inRow: window.__row.contains(document.activeElement),"
        " tag: document.activeElement.tagName })")
    assert focused == {"inRow": True, "tag": "A"}

    # A text selection in the row survives too.
    path_text = page.evaluate("""() => {
      const p = window.__row.querySelector('.project-path');
      const range = document.createRange();
      range.selectNodeContents(p);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      return p.textContent;
    }""")
    wait_row_events(page, 3)
    assert page.evaluate("() => getSelection().toString()") == path_text

    # The same element all along: updated, never rebuilt.
    same = page.evaluate(
        "id => window.__row === document.querySelector(`[data-project-id='${id}']`)"
        " && window.__row.isConnected", pid)
    assert same
    expect(the_row).to_have_attribute("data-state", "completed", timeout=60_000)
    assert page.evaluate("() => window.__row.isConnected")


def test_transfers_tray_lists_running_and_queued_with_batch_progress(
    page: Page, ui_agent: UiAgent, tmp_path: Path
) -> None:
    agent = ui_agent(VIDSYNC_BATCH_CONCURRENCY="1", VIDSYNC_THROTTLE="0.01")
    # A project whose folder is gone fails at once, before the others run.
    gone = create_project(agent, "Reel 0", make_tree(tmp_path / "gone", {"x": "1"}))
    shutil.rmtree(tmp_path / "gone")
    # 3 s a snapshot: the checks of "1 running, 2 queued" below all see the first.
    ids = [create_project(agent, name, make_flat_tree(tmp_path / name, 300, per_dir=50))
           for name in ("Reel A", "Reel B", "Reel C")]
    page.add_init_script("""
      window.__summaries = [];
      new MutationObserver(() => {
        const s = document.querySelector("#transfers [data-part=summary]");
        const text = s && s.textContent;
        if (text && text !== window.__summaries.at(-1)) window.__summaries.push(text);
      }).observe(document, { subtree: true, childList: true, characterData: true });
      window.__overall = [];
      new MutationObserver(() => {
        const t = document.getElementById("transfers");
        if (t && !t.hidden && t.dataset.overall) window.__overall.push(Number(t.dataset.overall));
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-overall"] });
    """)
    open_projects_page(page, agent)
    tray = page.locator(TRAY)
    expect(tray).to_be_hidden()
    page.get_by_label("Select all").check()
    page.get_by_role("button", name=re.compile("^Snapshot selected")).click()
    expect(tray).to_be_visible()
    expect(tray.locator("[data-part=summary]")).to_contain_text("1 running, 2 queued, 1 failed")
    queued = tray.locator(".tray-item[data-state=queued]")
    expect(queued).to_have_count(2)
    expect(queued.first.locator(".badge")).to_have_text("Queued")
    expect(tray.locator(".tray-item[data-state=running] .badge")).to_have_text("Running")
    # the rows agree, from the event's `queued` field
    expect(page.locator(".project[data-state=queued]")).to_have_count(2)
    total = tray.get_by_role("progressbar", name="Overall progress of all transfers")
    expect(total).to_be_visible()
    expect(tray.locator("[data-part=summary]")).to_contain_text("1 completed", timeout=60_000)
    # An ended snapshot tells no time left.
    expect(tray.locator(".tray-item[data-state=completed] .live-eta").first).to_have_text("")
    expect(tray).to_be_hidden(timeout=60_000)  # the whole batch ended
    for pid in ids:
        expect(row(page, pid)).to_have_attribute("data-state", "completed")
    expect(row(page, gone)).to_have_attribute("data-state", "failed")
    summaries: list[str] = page.evaluate("window.__summaries")
    assert "4 snapshots: 1 running, 1 failed, 2 completed" in summaries, summaries
    overall: list[int] = page.evaluate("window.__overall")
    assert overall and overall == sorted(overall), overall
    assert overall[0] < 34 and overall[-1] >= 66


def test_step_list_is_labelled_and_announcements_are_few(
    page: Page, ui_agent: UiAgent, tmp_path: Path
) -> None:
    agent = ui_agent(VIDSYNC_THROTTLE="0.01")
    page.add_init_script("""
      window.__said = [];
      new MutationObserver((records) => {
        for (const r of records) {
          const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
          if (node?.dataset?.part !== "announce" || !node.textContent) continue;
          // one text change is several mutation records
          if (window.__said.at(-1) !== node.textContent) window.__said.push(node.textContent);
        }
      }).observe(document, { subtree: true, childList: true, characterData: true });
    """)
    open_projects_page(page, agent)
    create_in_ui(page, "Voice", make_flat_tree(tmp_path / "voice", 300, per_dir=30))
    modal = page.locator(MODAL)
    steps = modal.locator("[data-part=steps] li")
    expect(steps).to_have_count(6)  # from /api/v1/config
    page.wait_for_function(
        "() => document.getElementById('progress-modal').dataset.stepNumber === '3'")
    current = modal.locator("[data-part=steps] li[aria-current=step]")
    expect(current).to_have_count(1)
    expect(current).to_contain_text("Browsing files: in progress")
    expect(steps.nth(0)).to_contain_text(": done")
    expect(steps.nth(5)).to_contain_text("Completed: not started")
    assert modal.locator("[data-part=title]").get_attribute("aria-live") is None
    wait_modal_state(page, "completed")
    expect(steps.nth(5)).to_contain_text("Completed: done")
    expect(modal.locator("[data-part=steps] li[aria-current]")).to_have_count(0)
    said: list[str] = page.evaluate("window.__said")
    event_ids = {s["eventId"] for s in ui_log(page)["snaps"]}
    # one line per step and one for the end, however many events came
    assert len(said) <= 7 and len(event_ids) > len(said), (said, len(event_ids))
    assert said[-1] == "Snapshot of Voice: Completed"
    assert len(said) == len(set(said))


# -- 6. everywhere -------------------------------------------------------------------


def badge_look(page: Page) -> dict[str, tuple[str, str, str]]:
    looks: dict[str, tuple[str, str, str]] = page.evaluate("""() => {
      const out = {};
      for (const b of document.querySelectorAll('.badge')) {
        const state = [...b.classList].find((c) => c.startsWith('badge-'))?.slice(6);
        if (!state || !b.checkVisibility()) continue;
        const s = getComputedStyle(b);
        out[state] = [s.backgroundColor, s.color, getComputedStyle(b, '::before').content];
      }
      return out;
    }""")
    return looks


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.evaluate("() => window.innerWidth")
    # what sticks out, to say which element to fix
    wide = page.evaluate("""w => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > w + 1 && e.checkVisibility())
      .slice(-5)
      .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)""",
                         viewport)
    assert width <= viewport, (width, viewport, wide)


def test_states_badges_units_plurals_retry_and_small_dark_screens(
    browser: Browser, ui_agent: UiAgent, tmp_path: Path, console: ConsoleWatch
) -> None:
    agent = ui_agent(VIDSYNC_THROTTLE="0.01", VIDSYNC_BATCH_CONCURRENCY="1")
    single = create_project(agent, "Single", make_tree(tmp_path / "single", {"a.mov": b"x" * 2048}))
    warned_dir = make_tree(tmp_path / "warned", {"ok.txt": "1"})
    os.mkfifo(warned_dir / "pipe")  # a special file: skipped and counted
    warned = create_project(agent, "Skipped one", warned_dir)
    broken_dir = make_tree(tmp_path / "broken", {"x": "1"})
    broken = create_project(agent, "Gone folder", broken_dir)
    stopped = create_project(agent, "Stopped", make_flat_tree(tmp_path / "stop", 400, per_dir=40))
    for pid in (single, warned):
        start(agent, pid)
        snapshot_done(agent, pid)
    shutil.rmtree(broken_dir)
    start(agent, broken)
    assert snapshot_done(agent, broken)[0]["state"] == "failed"
    start(agent, stopped)
    wait_until(lambda: httpx.delete(f"{agent.url}/api/v1/projects/{stopped}/snapshot")
               .status_code == 202)
    snapshot_done(agent, stopped)
    # two long ones in a batch of one at a time: one runs, one waits
    slow = [create_project(agent, n, make_flat_tree(tmp_path / n, 3000, per_dir=100))
            for n in ("Running", "Waiting")]
    assert httpx.post(agent.url + "/api/v1/snapshots/batch",
                      json={"projectIds": slow}).status_code == 202

    shots: dict[str, dict[str, tuple[str, str, str]]] = {}
    for name, options in {
        "light": {"viewport": {"width": 1280, "height": 900}, "color_scheme": "light"},
        "dark": {"viewport": {"width": 1280, "height": 900}, "color_scheme": "dark"},
        "narrow": {"viewport": {"width": 390, "height": 1400}, "color_scheme": "light"},
        "tiny": {"viewport": {"width": 360, "height": 1400}, "color_scheme": "dark"},
    }.items():
        context = browser.new_context(**options)  # type: ignore[arg-type]
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.on("console", console.on_console)
        try:
            open_projects_page(page, agent)
            expect(row(page, slow[0])).to_have_attribute("data-state", "running")
            expect(row(page, slow[1])).to_have_attribute("data-state", "queued")
            expect(row(page, single)).to_contain_text("1 file · 2.0 KiB")
            expect(row(page, warned)).to_have_attribute("data-state", "completedWithWarnings")
            expect(row(page, warned)).to_contain_text("1 entry skipped")
            expect(row(page, broken)).to_have_attribute("data-state", "failed")
            expect(row(page, stopped)).to_have_attribute("data-state", "cancelled")
            expect(page.locator("#project-count")).to_have_text("6")
            shots[name] = badge_look(page)
            no_horizontal_scroll(page)
            background = page.evaluate("() => getComputedStyle(document.documentElement)"
                                       ".backgroundColor")
            assert (background == "rgb(15, 18, 22)") == (options["color_scheme"] == "dark")
            if name in ("light", "dark", "narrow"):
                shot_dir = SCREENSHOTS or tmp_path
                shot_dir.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot_dir / f"projects-{name}.png"),
                                animations="disabled", full_page=name == "narrow")
                assert (shot_dir / f"projects-{name}.png").stat().st_size > 1000
            if name == "tiny":
                row(page, slow[0]).get_by_role("button", name=re.compile("^View progress")).click()
                expect(page.locator(MODAL)).to_be_visible()
                no_horizontal_scroll(page)
                page.keyboard.press("Escape")
                page.locator(MODAL).get_by_role("button", name="Run in background").click()
                page.goto(f"{agent.url}/ui/#/projects/{warned}")
                page.wait_for_selector("#view-project[data-state=ready]")
                state = page.locator("[data-part=history] td[data-col=state]").first
                expect(state).to_contain_text("Completed with warnings")
                no_horizontal_scroll(page)
        finally:
            context.close()

    # six states, six looks (colour and mark), in light and in dark
    for looks in shots.values():
        assert set(looks) >= {"running", "queued", "completed", "completedWithWarnings",
                              "failed", "cancelled"}, looks
        assert len({tuple(look) for look in looks.values()}) == len(looks), looks
    assert shots["light"]["running"] != shots["dark"]["running"]

    # A failed snapshot offers Retry; with the folder back, the retry completes.
    make_tree(broken_dir, {"x": "1"})
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        open_projects_page(page, agent)
        retry = row(page, broken).get_by_role("button", name=re.compile("^Retry"))
        retry.click()
        wait_modal_state(page, "completed")
        expect(row(page, broken)).to_have_attribute("data-state", "completed", timeout=30_000)
    finally:
        context.close()
    httpx.delete(f"{agent.url}/api/v1/projects/{slow[0]}/snapshot")
    httpx.delete(f"{agent.url}/api/v1/projects/{slow[1]}/snapshot")
