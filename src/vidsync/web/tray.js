// The transfers tray: every running and queued snapshot in one place, with the
// overall progress of the batch. A snapshot joins when it is seen running; ended
// ones stay (at 100 % for the total) until the whole batch has ended, then the
// tray empties itself.

import { el } from "./dom.js";
import { count, plural } from "./format.js";
import { isQueued, isTerminal } from "./hub.js";
import { LiveProgress } from "./live-progress.js";

const set = (node, text) => {
  if (node.textContent !== text) node.textContent = text;
};

export class TransfersTray {
  #root;
  #list;
  #summary;
  #total;
  #items = new Map(); // projectId -> {node, live, event}
  #high = 0; // the overall bar never goes back while the tray is open
  #nameOf;

  /** @param {HTMLElement} root @param {{nameOf: (projectId: string) => string, onView: (projectId: string) => void}} deps */
  constructor(root, { nameOf, onView }) {
    this.#root = root;
    this.#nameOf = nameOf;
    this.#list = root.querySelector("[data-part=items]");
    this.#summary = root.querySelector("[data-part=summary]");
    this.#total = new LiveProgress({ small: true });
    this.#total.node.classList.add("tray-total");
    root.querySelector("[data-part=total]").replaceWith(this.#total.node);
    this.#list.addEventListener("click", (e) => {
      const item = e.target.closest("[data-transfer-id]");
      if (item && e.target.closest("button")) onView(item.dataset.transferId);
    });
  }

  /** Take an event of any project. */
  update(event) {
    let item = this.#items.get(event.projectId);
    if (!item) {
      if (isTerminal(event)) return; // never seen running here: not a transfer of this page
      item = this.#build(event.projectId);
      this.#items.set(event.projectId, item);
      this.#list.append(item.node);
    } else if (item.event.snapshotId !== event.snapshotId && isTerminal(event)) {
      return; // the end of an older snapshot
    }
    item.event = event;
    item.live.show(event, this.#nameOf(event.projectId));
    set(item.name, this.#nameOf(event.projectId));
    item.node.dataset.state = item.live.node.dataset.state;
    item.view.hidden = isTerminal(event);
    this.#render();
  }

  /** Names may arrive after the first event (a project created elsewhere). */
  rename() {
    for (const [id, item] of this.#items) set(item.name, this.#nameOf(id));
  }

  #build(projectId) {
    const live = new LiveProgress({ small: true });
    const name = el("strong", { class: "tray-name" });
    const view = el("button", { type: "button", class: "btn btn-small btn-ghost", text: "Details" });
    view.setAttribute("aria-label", `Details of ${this.#nameOf(projectId)}`);
    const node = el(
      "li",
      { class: "tray-item", dataset: { transferId: projectId } },
      el("div", { class: "tray-item-head" }, name, view),
      live.node,
    );
    return { node, live, name, view, event: null };
  }

  #render() {
    const events = [...this.#items.values()].map((i) => i.event);
    const active = events.filter((e) => !isTerminal(e));
    if (!active.length) {
      // The whole batch ended: the rows and toasts tell the outcome from here.
      this.#items.clear();
      this.#list.replaceChildren();
      this.#root.hidden = true;
      this.#high = 0;
      return;
    }
    this.#root.hidden = false;
    const queued = active.filter(isQueued).length;
    const running = active.length - queued;
    const parts = [];
    if (running) parts.push(`${count(running)} running`);
    if (queued) parts.push(`${count(queued)} queued`);
    // Ended ones by outcome: a failure is not "done" to someone reading the tray.
    const ended = new Map();
    for (const e of events) if (isTerminal(e)) ended.set(e.step, (ended.get(e.step) ?? 0) + 1);
    for (const [step, n] of ended) parts.push(`${count(n)} ${step}`);
    set(this.#summary, `${plural(events.length, "snapshot")}: ${parts.join(", ")}`);
    // Overall: every snapshot of the batch weighs the same; ended ones count as whole.
    // A snapshot joining late would pull the average down: hold the bar instead.
    const average = Math.floor(
      events.reduce((sum, e) => sum + (isTerminal(e) ? 100 : isQueued(e) ? 0 : e.progress), 0) / events.length,
    );
    const overall = Math.max(this.#high, average);
    this.#high = overall;
    const fill = this.#total;
    const value = String(overall);
    if (fill.bar.getAttribute("aria-valuenow") !== value) {
      fill.bar.setAttribute("aria-valuenow", value);
      fill.fill.style.width = `${overall}%`;
    }
    fill.bar.setAttribute("aria-label", "Overall progress of all transfers");
    fill.node.querySelector(".live-line").hidden = true;
    this.#root.dataset.overall = value;
  }
}
