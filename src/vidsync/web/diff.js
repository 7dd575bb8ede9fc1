// What changed between two snapshots: counts, byte deltas, and the changes, paged.

import { diffSnapshots } from "./api.js";
import { el } from "./dom.js";
import { count, dateTime, size, sizeDelta, stamp } from "./format.js";

const PAGE = 200;
const KINDS = {
  added: { marker: "+", label: "Added" },
  removed: { marker: "\u2212", label: "Removed" },
  modified: { marker: "M", label: "Modified" },
  typeChanged: { marker: "T", label: "Type changed" },
};

const kindOf = (entry) => (!entry ? "" : entry.isDirectory ? "folder" : entry.isSymlink ? "symlink" : "file");

export class DiffView {
  #root;
  #q;
  #request = 0;
  #query = null;

  #onClose;

  /** @param {HTMLElement} root the diff card @param {{onClose?: () => void}} deps */
  constructor(root, { onClose = () => {} } = {}) {
    this.#onClose = onClose;
    this.#root = root;
    this.#q = (part) => root.querySelector(`[data-part="${part}"]`);
    this.#q("more").addEventListener("click", () => this.#more());
    this.#q("close").addEventListener("click", () => {
      this.hide();
      this.#onClose();
    });
  }

  hide() {
    this.#request += 1;
    this.#query = null;
    this.#root.hidden = true;
  }

  async show(projectId, older, newer) {
    const request = ++this.#request;
    this.#query = { projectId, from: older.snapshotId, to: newer.snapshotId, next: 0 };
    const root = this.#root;
    root.hidden = false;
    root.dataset.state = "loading";
    root.dataset.from = older.snapshotId;
    root.dataset.to = newer.snapshotId;
    this.#q("range").textContent = `${stamp(older.startedAt)} → ${stamp(newer.startedAt)}`;
    this.#q("list").replaceChildren();
    this.#q("summary").replaceChildren();
    this.#q("more").hidden = true;
    this.#q("error").hidden = true;
    root.scrollIntoView({ block: "nearest" });
    try {
      const answer = await diffSnapshots(projectId, older.snapshotId, newer.snapshotId, 0, PAGE);
      if (request !== this.#request) return;
      this.#summary(answer);
      this.#append(answer);
      root.dataset.state = "ready";
    } catch (err) {
      if (request !== this.#request) return;
      this.#q("error").textContent = `Cannot compare these snapshots: ${err.message}`;
      this.#q("error").hidden = false;
      root.dataset.state = "error";
    }
  }

  async #more() {
    const query = this.#query;
    if (!query || query.next === null) return;
    const request = this.#request;
    const button = this.#q("more");
    button.disabled = true;
    try {
      const answer = await diffSnapshots(query.projectId, query.from, query.to, query.next, PAGE);
      if (request === this.#request) this.#append(answer);
    } catch (err) {
      if (request !== this.#request) return; // a newer comparison is on screen
      this.#q("error").textContent = `Cannot load more changes: ${err.message}`;
      this.#q("error").hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  #summary({ counts, bytes, total }) {
    const stat = (kind) =>
      el(
        "div",
        { class: `diff-stat diff-${kind}`, dataset: { count: kind } },
        el("span", { class: "marker", "aria-hidden": "true", text: KINDS[kind].marker }),
        el("strong", { text: count(counts[kind]) }),
        el("span", { text: ` ${KINDS[kind].label.toLowerCase()}` }),
      );
    const delta = el(
      "p",
      { class: "diff-bytes", dataset: { part: "bytes" } },
      el("strong", { text: sizeDelta(bytes.totalDelta) }),
      ` in total: ${sizeDelta(bytes.added)} added, ${sizeDelta(-bytes.removed)} removed, ${sizeDelta(bytes.modifiedDelta)} in changed files`,
    );
    this.#q("summary").replaceChildren(
      el("div", { class: "diff-stats" }, ...Object.keys(KINDS).map(stat)),
      delta,
    );
    this.#q("empty").hidden = total > 0;
  }

  #append({ changes, nextOffset, total }) {
    const list = this.#q("list");
    list.append(...changes.map((c) => this.#change(c)));
    this.#query.next = nextOffset;
    const more = this.#q("more");
    more.hidden = nextOffset === null;
    more.textContent = `Load more (${count(list.children.length)} of ${count(total)} shown)`;
  }

  #change({ change, path, before, after }) {
    const kind = KINDS[change] ?? { marker: "?", label: change };
    let detail = "";
    if (change === "added") detail = after.isDirectory ? "folder" : size(after.size ?? 0);
    else if (change === "removed") detail = before.isDirectory ? "folder" : size(before.size ?? 0);
    else if (change === "typeChanged") detail = `${kindOf(before)} → ${kindOf(after)}`;
    else if (before.size !== after.size) detail = `${size(before.size ?? 0)} → ${size(after.size ?? 0)}`;
    else detail = `modified ${dateTime(after.modTime)}`;
    return el(
      "li",
      { class: `change change-${change}`, dataset: { change, path } },
      el("span", { class: "marker", title: kind.label, text: kind.marker }),
      el("span", { class: "sr-only", text: `${kind.label}: ` }),
      el("span", { class: "change-path", text: path }),
      el("span", { class: "change-detail", text: detail }),
    );
  }
}
