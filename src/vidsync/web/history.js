// A project's snapshot history, newest first, with the choice of two to compare.

import { listSnapshots } from "./api.js";
import { el } from "./dom.js";
import { stateLabel } from "./config.js";
import { count, displayState, duration, plural, skippedText, stamp } from "./format.js";

// Snapshots of small folders take well under a second: say so rather than "0 s".
const took = (s) => (s < 0.1 ? "< 0.1 s" : s < 10 ? `${s.toFixed(1)} s` : duration(s));


export class HistoryView {
  #body;
  #empty;
  #from;
  #to;
  #compareButton;
  #defaults = ["", ""]; // the choice the last render made, to tell it from the user's
  #records = [];
  #onCompare;
  #onFiles;

  /**
   * @param {{body: HTMLElement, empty: HTMLElement, from: HTMLSelectElement, to: HTMLSelectElement, compare: HTMLButtonElement}} elements
   * @param {{onCompare: (older: object, newer: object) => void, onFiles?: (record: object) => void}} deps
   */
  constructor({ body, empty, from, to, compare }, { onCompare, onFiles = () => {} }) {
    this.#onFiles = onFiles;
    this.#body = body;
    this.#empty = empty;
    this.#from = from;
    this.#to = to;
    this.#compareButton = compare;
    this.#onCompare = onCompare;
    body.addEventListener("click", (e) => {
      const files = e.target.closest("button[data-action=show-files]");
      if (files) {
        const record = this.#find(files.closest("tr").dataset.snapshotId);
        if (record) this.#onFiles(record);
        return;
      }
      const button = e.target.closest("button[data-action=compare-previous]");
      if (!button) return;
      const index = this.#records.findIndex((r) => r.snapshotId === button.closest("tr").dataset.snapshotId);
      const older = this.#previousCompleted(index);
      if (older) this.#compare(older, this.#records[index]);
    });
    compare.addEventListener("click", () => {
      const a = this.#find(from.value);
      const b = this.#find(to.value);
      if (a && b) this.#compare(a, b);
    });
    const sync = () => {
      compare.disabled = !from.value || !to.value || from.value === to.value;
    };
    from.addEventListener("change", sync);
    to.addEventListener("change", sync);
  }

  get records() {
    return this.#records;
  }

  async load(projectId) {
    this.#records = await listSnapshots(projectId);
    this.#render();
    return this.#records;
  }

  clear() {
    this.#records = [];
    this.#body.replaceChildren();
  }

  /** True if the history lists this snapshot already. */
  has(snapshotId) {
    return this.#records.some((r) => r.snapshotId === snapshotId);
  }

  /** Mark the two rows being compared (null: none). */
  mark(fromId = null, toId = null) {
    for (const tr of this.#body.querySelectorAll("tr")) {
      const id = tr.dataset.snapshotId;
      if (id === fromId || id === toId) tr.dataset.compared = id === fromId ? "from" : "to";
      else delete tr.dataset.compared;
    }
  }

  #find(id) {
    return this.#records.find((r) => r.snapshotId === id) ?? null;
  }

  #previousCompleted(index) {
    for (let i = index + 1; i < this.#records.length; i += 1) {
      if (this.#records[i].state === "completed") return this.#records[i];
    }
    return null;
  }

  #compare(a, b) {
    // Always older → newer, whichever way round they were picked.
    const [older, newer] = Date.parse(a.startedAt) <= Date.parse(b.startedAt) ? [a, b] : [b, a];
    this.#from.value = older.snapshotId;
    this.#to.value = newer.snapshotId;
    this.#compareButton.disabled = false;
    this.mark(older.snapshotId, newer.snapshotId);
    this.#onCompare(older, newer);
  }

  #render() {
    const records = this.#records;
    const compared = {};
    for (const tr of this.#body.querySelectorAll("tr[data-compared]")) compared[tr.dataset.compared] = tr.dataset.snapshotId;
    this.#body.replaceChildren(...records.map((r, i) => this.#row(r, i)));

    this.#empty.hidden = records.length > 0;
    const completed = records.filter((r) => r.state === "completed");
    const keep = [this.#from.value, this.#to.value];
    const options = () => completed.map((r) =>
      el("option", { value: r.snapshotId, text: `${stamp(r.startedAt)} · ${plural(r.fileCount ?? 0, "file")}` }),
    );
    this.#from.replaceChildren(el("option", { value: "", text: "Older snapshot..." }), ...options());
    this.#to.replaceChildren(el("option", { value: "", text: "Newer snapshot..." }), ...options());
    // The newest two, unless the user picked others: a snapshot that completes
    // while the page is open moves an untouched choice along with it.
    const defaults = [completed[1]?.snapshotId ?? "", completed[0]?.snapshotId ?? ""];
    const untouched = keep[0] === this.#defaults[0] && keep[1] === this.#defaults[1];
    const pick = (i) => (!untouched && completed.some((r) => r.snapshotId === keep[i]) ? keep[i] : defaults[i]);
    this.#from.value = pick(0);
    this.#to.value = pick(1);
    this.#defaults = defaults;
    this.#compareButton.disabled = !this.#from.value || !this.#to.value || this.#from.value === this.#to.value;
    this.#compareButton.closest("[data-part=compare]").hidden = completed.length < 2;
    if (compared.from) this.mark(compared.from, compared.to);
  }

  #row(record, index) {
    const state = record.state;
    const shown = displayState(record);
    const badge = el("span", { class: `badge badge-${shown}`, text: stateLabel(shown) });
    const stateCell = el("td", { dataset: { col: "state", outcome: shown } }, badge);
    if (state === "failed" && record.error) {
      stateCell.append(el("p", { class: "history-error", title: record.error, text: record.error }));
    }
    if (shown === "completedWithWarnings") {
      stateCell.append(el("p", { class: "history-warning", text: skippedText(record) }));
    }
    const known = (v, f) => (v === null || v === undefined ? "—" : f(v));
    const older = state === "completed" ? this.#previousCompleted(index) : null;
    const action = older
      ? el("button", {
          type: "button",
          class: "btn btn-small btn-ghost",
          dataset: { action: "compare-previous" },
          "aria-label": `Compare the snapshot of ${stamp(record.startedAt)} with the previous one`,
          title: "Compare with the previous completed snapshot",
          text: "Compare",
        })
      : null;
    // A completed snapshot links to its own file tree.
    const files = state === "completed"
      ? el("button", {
          type: "button",
          class: "btn btn-small btn-ghost",
          dataset: { action: "show-files" },
          "aria-label": `Show the files of the snapshot of ${stamp(record.startedAt)}`,
          text: "Files",
        })
      : null;
    return el(
      "tr",
      { dataset: { snapshotId: record.snapshotId, state } },
      el("td", { dataset: { col: "date" } }, el("time", { datetime: record.startedAt, title: record.snapshotId, text: stamp(record.startedAt) })),
      stateCell,
      el("td", { class: "num", dataset: { col: "files" }, text: known(record.fileCount, count) }),
      el("td", { class: "num", dataset: { col: "size" }, text: record.totalSize ?? "—" }),
      el("td", { class: "num", dataset: { col: "duration" }, text: known(record.durationSeconds, took) }),
      el("td", { class: "actions" }, files, action),
    );
  }
}
