// The progress modal: one snapshot's live progress, from the hub.

import { cancelSnapshot } from "./api.js";
import { count, duration, rate, stepLabel } from "./format.js";
import { isTerminal } from "./hub.js";
import { connectionText } from "./status.js";

const AUTO_CLOSE_MS = 2000;
const TOTAL_STEPS = 6;

export class ProgressModal {
  #dialog;
  #hub;
  #watcher = null;
  #autoClose = null;
  #onStatus;
  #returnFocus = null;
  #hovered = false;
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
      dots: [...dialog.querySelectorAll("[data-part=steps] li")],
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
    this.#el.title.textContent = "Starting snapshot";
    this.#el.message.textContent = "Waiting for the agent...";
    this.#setProgress(0, "Starting");
    for (const dot of this.#el.dots) dot.dataset.status = "pending";
    this.#el.stepCount.textContent = `Step 1 of ${TOTAL_STEPS}`;
    for (const key of ["files", "size", "rate", "eta"]) this.#el[key].textContent = "—";
    this.#el.error.hidden = true;
    this.#el.success.hidden = true;
    this.#el.cancel.disabled = false;
    this.#el.cancel.textContent = "Cancel snapshot";
    this.#showButtons(false);
  }

  #setProgress(value, label) {
    this.#el.bar.setAttribute("aria-valuenow", String(value));
    this.#el.bar.setAttribute("aria-valuetext", `${value}% — ${label}`);
    this.#el.fill.style.width = `${value}%`;
    this.#el.percent.textContent = `${value}%`;
  }

  #showButtons(terminal) {
    this.#el.close.hidden = !terminal;
    this.#el.done.hidden = !terminal;
    this.#el.cancel.hidden = terminal;
    this.#el.background.hidden = terminal;
  }

  #render(event) {
    if (event.snapshotId !== this.snapshotId) return;
    const d = this.#dialog;
    const terminal = isTerminal(event);
    const state = terminal ? event.step : "running";
    const step = Math.min(Math.max(event.stepNumber, 1), TOTAL_STEPS);
    const label = stepLabel(event);
    d.dataset.state = state;
    d.dataset.stepNumber = String(step);
    d.dataset.eventId = String(event.id);
    this.#el.title.textContent = label;
    this.#el.message.textContent = event.message || "";
    this.#setProgress(event.progress, label);
    this.#el.dots.forEach((dot, i) => {
      const n = i + 1;
      let status = "pending";
      if (n < step || (n === step && state === "completed")) status = "done";
      else if (n === step) status = state === "running" ? "active" : state;
      dot.dataset.status = status;
    });
    this.#el.stepCount.textContent = `Step ${step} of ${TOTAL_STEPS}`;
    this.#renderStats(event, terminal);
    if (event.step === "failed") {
      this.#el.errorText.textContent = event.error || "The agent gave no reason.";
      this.#el.error.hidden = false;
    }
    if (event.step === "completed") {
      this.#el.url.textContent = event.snapshotUrl || "";
      this.#el.success.hidden = false;
      if (!this.#hovered) this.#scheduleAutoClose();
      this.#autoCloseHint();
    }
    if (terminal && !this.terminal) {
      this.terminal = true;
      this.#showButtons(true);
      this.#el.done.focus();
    }
  }

  #scheduleAutoClose() {
    clearTimeout(this.#autoClose);
    this.#autoClose = setTimeout(() => this.close(), AUTO_CLOSE_MS);
    this.#autoCloseHint();
  }

  #autoCloseHint() {
    this.#el.autoClose.textContent = this.#hovered
      ? "This window stays open while the pointer is on it."
      : "This window closes in 2 seconds.";
  }

  #renderStats(event, terminal) {
    const el = this.#el;
    if (event.fileCount !== null && event.fileCount !== undefined) {
      el.files.textContent = count(event.fileCount);
    } else if (event.stepNumber === 3 && event.stepDone) {
      el.files.textContent = `${count(event.stepDone)} found`;
    } else {
      el.files.textContent = "—";
    }
    el.size.textContent = event.totalSize || "—";
    if (terminal) {
      el.rate.textContent = "—";
      el.eta.textContent = "—";
      return;
    }
    el.rate.textContent = rate(event) ?? "—";
    if (event.etaSeconds !== null && event.etaSeconds !== undefined) {
      el.eta.textContent = duration(event.etaSeconds);
    } else {
      el.eta.textContent = event.stepNumber >= 3 ? "estimating..." : "—";
    }
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
