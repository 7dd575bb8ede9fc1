// The progress modal: one snapshot's live progress, from the hub.

import { cancelSnapshot, startSnapshot } from "./api.js";
import { config, stateLabel } from "./config.js";
import { el } from "./dom.js";
import { count, displayState, eta, rate, skippedText, stepLabel, stepWork } from "./format.js";
import { isTerminal } from "./hub.js";
import { connectionText } from "./status.js";

const AUTO_CLOSE_MS = 2000;
const STATUS_TEXT = { done: "done", active: "in progress", failed: "failed", cancelled: "cancelled", pending: "not started" };

const set = (node, text) => {
  if (node.textContent !== text) node.textContent = text;
};

export class ProgressModal {
  #dialog;
  #hub;
  #watcher = null;
  #autoClose = null;
  #onStatus;
  #returnFocus = null;
  #hovered = false;
  #announced = null;
  #el;

  /** @param {HTMLDialogElement} dialog @param {{hub: import("./hub.js").ProgressHub, onMessage: (text: string) => void}} deps */
  constructor(dialog, { hub, onMessage }) {
    this.#dialog = dialog;
    this.#hub = hub;
    this.onMessage = onMessage;
    this.projectId = null;
    this.snapshotId = null;
    this.terminal = false;
    const q = (name) => dialog.querySelector(`[data-part="${name}"]`);
    this.#el = {
      project: q("project"),
      title: q("title"),
      message: q("message"),
      bar: q("bar"),
      fill: q("fill"),
      percent: q("percent"),
      steps: q("steps"),
      dots: [],
      work: q("work"),
      announce: q("announce"),
      warning: q("warning"),
      warningText: q("warning-text"),
      retry: q("retry"),
      stepCount: q("step-count"),
      files: q("files"),
      size: q("size"),
      rate: q("rate"),
      eta: q("eta"),
      error: q("error"),
      errorText: q("error-text"),
      success: q("success"),
      url: q("url"),
      autoClose: q("auto-close"),
      conn: q("conn"),
      connText: q("conn-text"),
      close: q("close"),
      done: q("done"),
      cancel: q("cancel"),
      background: q("background"),
      copy: q("copy"),
    };
    this.#onStatus = () => this.#renderConnection();
    dialog.addEventListener("cancel", (e) => {
      if (!this.terminal) e.preventDefault(); // Esc closes it only once the snapshot ended
    });
    dialog.addEventListener("close", () => this.#closed());
    // Auto-close waits while the pointer is on the modal: the user may be reading it.
    const body = q("body");
    body.addEventListener("pointerenter", () => {
      this.#hovered = true;
      clearTimeout(this.#autoClose);
      this.#autoCloseHint();
    });
    body.addEventListener("pointerleave", () => {
      this.#hovered = false;
      if (this.#dialog.dataset.state === "completed") this.#scheduleAutoClose();
    });
    this.#el.close.addEventListener("click", () => this.close());
    this.#el.done.addEventListener("click", () => this.close());
    this.#el.background.addEventListener("click", () => this.close());
    this.#el.cancel.addEventListener("click", () => this.#cancel());
    this.#el.copy.addEventListener("click", () => this.#copy());
    this.#el.retry.addEventListener("click", () => this.#retry());
    this.onRetry = null;
  }

  /** The step list, from the agent's configuration: a label and a state per step. */
  #buildSteps() {
    const steps = config().steps;
    if (this.#el.dots.length === steps.length) return;
    this.#el.dots = steps.map((s) =>
      el(
        "li",
        { dataset: { status: "pending", step: String(s.stepNumber) }, title: s.label },
        el("span", { class: "dot", "aria-hidden": "true" }),
        el("span", { class: "sr-only", dataset: { part: "step-label" } }, `${s.label}: not started`),
      ),
    );
    this.#el.steps.replaceChildren(...this.#el.dots);
  }

  get isOpen() {
    return this.#dialog.open;
  }

  /** True while the modal shows this snapshot (a toast would say it twice). */
  shows(snapshotId) {
    return this.isOpen && this.snapshotId === snapshotId;
  }

  open({ projectId, projectName, snapshotId }) {
    if (this.isOpen) this.close();
    this.#buildSteps();
    this.projectName = projectName;
    this.projectId = projectId;
    this.snapshotId = snapshotId;
    this.terminal = false;
    this.#hovered = false;
    this.#returnFocus = document.activeElement;
    this.#el.project.textContent = projectName;
    this.#reset();
    this.#hub.client.addEventListener("statechange", this.#onStatus);
    this.#renderConnection();
    this.#dialog.showModal();
    this.#el.background.focus();
    this.#watcher = this.#hub.watch(projectId, snapshotId, (event) => this.#render(event));
  }

  close() {
    if (this.isOpen) this.#dialog.close();
  }

  #closed() {
    this.#watcher?.close();
    this.#watcher = null;
    clearTimeout(this.#autoClose);
    this.#hub.client.removeEventListener("statechange", this.#onStatus);
    const focus = this.#returnFocus;
    this.#returnFocus = null;
    if (focus?.isConnected) {
      focus.focus();
    } else if (focus) {
      // The row re-rendered while the modal was open: focus the same row's first action.
      const id = focus.closest("[data-project-id]")?.dataset.projectId;
      const fresh = id && document.querySelector(`[data-project-id="${CSS.escape(id)}"] button`);
      if (fresh) fresh.focus();
    }
  }

  #reset() {
    const d = this.#dialog;
    this.#el.copy.textContent = "Copy";
    d.dataset.state = "running";
    d.dataset.stepNumber = "0";
    d.dataset.eventId = "0";
    d.dataset.outcome = "running";
    this.#el.title.textContent = "Starting snapshot";
    this.#el.message.textContent = "Waiting for the agent...";
    this.#el.announce.textContent = "";
    this.#el.work.textContent = "";
    this.#announced = null;
    this.#setProgress(0, "Starting");
    this.#el.dots.forEach((dot) => this.#setDot(dot, "pending"));
    this.#el.stepCount.textContent = `Step 1 of ${config().totalSteps}`;
    for (const key of ["files", "size", "rate", "eta"]) this.#el[key].textContent = "—";
    this.#el.error.hidden = true;
    this.#el.warning.hidden = true;
    this.#el.success.hidden = true;
    this.#el.retry.hidden = true;
    this.#el.cancel.disabled = false;
    this.#el.cancel.textContent = "Cancel snapshot";
    this.#showButtons(false);
  }

  #setProgress(value, label) {
    if (this.#el.bar.getAttribute("aria-valuenow") !== String(value)) {
      this.#el.bar.setAttribute("aria-valuenow", String(value));
      this.#el.fill.style.width = `${value}%`;
    }
    this.#el.bar.setAttribute("aria-valuetext", `${value}% — ${label}`);
    set(this.#el.percent, `${value}%`);
  }

  #setDot(dot, status) {
    if (dot.dataset.status === status) return;
    dot.dataset.status = status;
    const label = config().steps.find((s) => String(s.stepNumber) === dot.dataset.step)?.label ?? "";
    dot.querySelector("[data-part=step-label]").textContent = `${label}: ${STATUS_TEXT[status] ?? status}`;
    if (status === "active") dot.setAttribute("aria-current", "step");
    else dot.removeAttribute("aria-current");
  }

  /** Say a step change or the end once (not every event). */
  #announce(key, text) {
    if (this.#announced === key) return;
    this.#announced = key;
    this.#el.announce.textContent = text;
  }

  #showButtons(terminal) {
    this.#el.close.hidden = !terminal;
    this.#el.done.hidden = !terminal;
    this.#el.cancel.hidden = terminal;
    if (!terminal) this.#el.retry.hidden = true;
    this.#el.background.hidden = terminal;
  }

  #render(event) {
    if (event.snapshotId !== this.snapshotId) return;
    const d = this.#dialog;
    const total = config().totalSteps;
    const terminal = isTerminal(event);
    const state = terminal ? event.step : "running";
    const outcome = displayState(event);
    const step = Math.min(Math.max(event.stepNumber, 1), total);
    const label = outcome === "completedWithWarnings" ? stateLabel(outcome) : stepLabel(event);
    d.dataset.state = state;
    d.dataset.outcome = outcome;
    d.dataset.stepNumber = String(step);
    d.dataset.eventId = String(event.id);
    set(this.#el.title, label);
    set(this.#el.message, event.message || "");
    this.#setProgress(event.progress, label);
    this.#el.dots.forEach((dot, i) => {
      const n = i + 1;
      let status = "pending";
      if (n < step || (n === step && state === "completed")) status = "done";
      else if (n === step) status = state === "running" ? "active" : state;
      this.#setDot(dot, status);
    });
    set(this.#el.stepCount, `Step ${step} of ${total}`);
    set(this.#el.work, terminal ? "" : stepWork(event));
    this.#renderStats(event, terminal);
    const name = this.projectName ?? "";
    if (terminal) this.#announce(`end:${event.step}`, `Snapshot of ${name}: ${stateLabel(outcome)}`);
    else this.#announce(`step:${step}:${outcome}`, `${name}: ${label}, step ${step} of ${total}`);
    if (event.step === "failed") {
      this.#el.errorText.textContent = event.error || "The agent gave no reason.";
      this.#el.error.hidden = false;
      this.#el.retry.hidden = false;
    }
    if (outcome === "completedWithWarnings") {
      this.#el.warningText.textContent = skippedText(event);
      this.#el.warning.hidden = false;
    }
    if (event.step === "completed") {
      this.#el.url.textContent = event.snapshotUrl || "";
      this.#el.success.hidden = false;
      // With warnings, the window stays: there is something to read.
      if (outcome === "completed" && !this.#hovered) this.#scheduleAutoClose();
      this.#autoCloseHint();
    }
    if (terminal && !this.terminal) {
      this.terminal = true;
      this.#showButtons(true);
      this.#el.done.focus();
    }
  }

  async #retry() {
    const button = this.#el.retry;
    button.disabled = true;
    try {
      const started = await startSnapshot(this.projectId);
      this.open({ projectId: this.projectId, projectName: this.projectName, snapshotId: started.snapshotId });
      this.onRetry?.(this.projectId);
    } catch (err) {
      this.onMessage(`Could not retry: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  }

  #scheduleAutoClose() {
    clearTimeout(this.#autoClose);
    this.#autoClose = setTimeout(() => this.close(), AUTO_CLOSE_MS);
    this.#autoCloseHint();
  }

  #autoCloseHint() {
    if (this.#dialog.dataset.outcome === "completedWithWarnings") {
      this.#el.autoClose.textContent = "Some entries were skipped: this window stays open.";
      return;
    }
    this.#el.autoClose.textContent = this.#hovered
      ? "This window stays open while the pointer is on it."
      : "This window closes in 2 seconds.";
  }

  #renderStats(event, terminal) {
    const el = this.#el;
    if (event.fileCount !== null && event.fileCount !== undefined) {
      set(el.files, count(event.fileCount));
    } else if (event.stepNumber === 3 && event.stepDone) {
      set(el.files, `${count(event.stepDone)} found`);
    } else {
      set(el.files, "—");
    }
    set(el.size, event.totalSize || "—");
    if (terminal) {
      set(el.rate, "—");
      set(el.eta, "—");
      return;
    }
    set(el.rate, rate(event) ?? "—");
    const left = event.etaSeconds !== null && event.etaSeconds !== undefined ? eta(event) : "";
    set(el.eta, left ? left.replace(/^About /, "").replace(/ left$/, "") : event.queued ? "—" : "estimating...");
  }

  #renderConnection() {
    const { text, kind } = connectionText(this.#hub.client);
    this.#el.conn.dataset.conn = kind;
    this.#el.connText.textContent = text;
  }

  async #cancel() {
    const button = this.#el.cancel;
    button.disabled = true;
    button.textContent = "Cancelling...";
    try {
      await cancelSnapshot(this.projectId);
    } catch (err) {
      button.disabled = false;
      button.textContent = "Cancel snapshot";
      if (err.status !== 409) this.onMessage(`Could not cancel: ${err.message}`);
    }
  }

  async #copy() {
    try {
      await navigator.clipboard.writeText(this.#el.url.textContent);
      this.#el.copy.textContent = "Copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(this.#el.url);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
  }
}
