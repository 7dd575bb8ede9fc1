// A running snapshot's progress in one line: bar, state badge, step, work, time left.
// Built once, then updated in place by show(event) (rows, the transfers tray, the
// project page all use it), so nothing the user is pointing at is ever replaced.

import { el } from "./dom.js";
import { config, stateLabel } from "./config.js";
import { displayState, eta, stepLabel, stepWork } from "./format.js";

const set = (node, text) => {
  if (node.textContent !== text) node.textContent = text;
};

export class LiveProgress {
  constructor({ small = false } = {}) {
    this.fill = el("div", { class: "bar-fill" });
    this.bar = el(
      "div",
      { class: `bar${small ? " bar-small" : ""}`, role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" },
      this.fill,
    );
    this.badge = el("span", { class: "badge" });
    this.step = el("span", { class: "live-step" });
    this.work = el("span", { class: "live-work" });
    this.eta = el("span", { class: "live-eta" });
    this.percent = el("span", { class: "live-percent" });
    this.node = el(
      "div",
      { class: "row-progress" },
      this.bar,
      el("p", { class: "status-line live-line" }, this.badge, " ", this.step, this.work, this.eta, this.percent),
    );
  }

  /** Show this event; `name` labels the bar for screen readers. */
  show(event, name) {
    const state = displayState(event);
    const queued = state === "queued";
    if (this.node.dataset.state !== state) this.node.dataset.state = state;
    this.badge.className = `badge badge-${state}`;
    set(this.badge, stateLabel(state));
    const progress = queued ? 0 : event.progress;
    const value = String(progress);
    if (this.bar.getAttribute("aria-valuenow") !== value) {
      this.bar.setAttribute("aria-valuenow", value);
      this.fill.style.width = `${progress}%`;
    }
    this.bar.setAttribute("aria-label", `Snapshot progress of ${name}`);
    const step = Math.min(Math.max(event.stepNumber, 1), config().totalSteps);
    const label = queued ? "Waiting for a free batch slot" : `Step ${step} of ${config().totalSteps} · ${stepLabel(event)}`;
    this.bar.setAttribute("aria-valuetext", `${progress}% — ${label}`);
    set(this.step, label);
    const work = queued ? "" : stepWork(event);
    set(this.work, work ? ` · ${work}` : "");
    const left = queued ? "" : eta(event);
    set(this.eta, left ? ` · ${left}` : "");
    set(this.percent, queued ? "" : ` · ${progress}%`);
  }
}
