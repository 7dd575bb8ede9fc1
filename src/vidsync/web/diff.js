// What changed between two snapshots: counts, byte deltas, and the changes, paged.
// The agent folds moves (a moved folder is one line) and image-sequence frames
// ("+48 frames 2401-2448"); the view can filter by change type and group by folder.

import { diffSnapshots } from "./api.js";
import { el } from "./dom.js";
import { count, dateTime, size, sizeDelta, stamp } from "./format.js";

const PAGE = 200;
const KINDS = {
  added: { marker: "+", label: "Added" },
  removed: { marker: "\u2212", label: "Removed" },
  modified: { marker: "M", label: "Modified" },
  typeChanged: { marker: "T", label: "Type changed" },
  moved: { marker: "R", label: "Moved" },
};

const plural = (n, word) => `${count(n)} ${word}${n === 1 ? "" : "s"}`;
/** The change type a row counts as: a sequence change counts as its action. */
const typeOf = (c) => (c.change === "sequence" ? c.action : c.change);
const folderOf = (path) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "");

const kindOf = (entry) => (!entry ? "" : entry.isDirectory ? "folder" : entry.isSymlink ? "symlink" : "file");

export class DiffView {
  #root;
  #q;
  #request = 0;
  #query = null;
  #changes = [];
  #total = 0;

  #onClose;

  /** @param {HTMLElement} root the diff card @param {{onClose?: () => void}} deps */
  constructor(root, { onClose = () => {} } = {}) {
    this.#onClose = onClose;
    this.#root = root;
    this.#q = (part) => root.querySelector(`[data-part="${part}"]`);
    this.#q("more").addEventListener("click", () => this.#more());
    this.#q("kind-filter").addEventListener("change", () => this.#render());
    this.#q("group").addEventListener("change", () => this.#render());
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
    this.#changes = [];
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
        el("strong", { text: count(counts[kind] ?? 0) }),
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
    this.#changes.push(...changes);
    this.#total = total;
    this.#query.next = nextOffset;
    this.#render();
  }

  /** The loaded changes, filtered by type and grouped by folder as chosen. */
  #render() {
    const list = this.#q("list");
    const only = this.#q("kind-filter").value;
    const shown = this.#changes.filter((c) => !only || typeOf(c) === only);
    if (this.#q("group").checked) {
      const groups = new Map();
      for (const c of shown) {
        const folder = folderOf(c.path);
        if (!groups.has(folder)) groups.set(folder, []);
        groups.get(folder).push(c);
      }
      const items = [];
      for (const folder of [...groups.keys()].sort()) {
        const members = groups.get(folder);
        items.push(el("li", { class: "change-group", dataset: { group: folder } }, `${folder || "(top folder)"}/ · ${plural(members.length, "change")}`));
        items.push(...members.map((c) => this.#change(c)));
      }
      list.replaceChildren(...items);
    } else {
      list.replaceChildren(...shown.map((c) => this.#change(c)));
    }
    const more = this.#q("more");
    more.hidden = this.#query?.next === null || this.#query?.next === undefined;
    more.textContent = `Load more (${count(this.#changes.length)} of ${count(this.#total)} shown)`;
  }

  #sequence({ action, path, frames, frameCount, bytes, from, fromFrames }) {
    if (action === "added") return [path, `+${plural(frameCount, "frame")} ${frames} · ${size(bytes)}`];
    if (action === "removed") return [path, `\u2212${plural(frameCount, "frame")} ${frames} · ${size(bytes)}`];
    if (action === "modified") return [path, `${plural(frameCount, "frame")} modified ${frames}`];
    return [`${from} ${fromFrames} → ${path} ${frames}`, plural(frameCount, "frame")];
  }

  #change(c) {
    const { change, path, before, after } = c;
    const type = typeOf(c);
    const kind = KINDS[type] ?? { marker: "?", label: type };
    let detail = "";
    let shownPath = path;
    if (change === "sequence") [shownPath, detail] = this.#sequence(c);
    else if (change === "moved") {
      shownPath = `${c.from} → ${path}`;
      detail = c.fileCount != null ? `folder · ${plural(c.fileCount, "file")} · ${size(c.totalBytes ?? 0)}` : size(after.size ?? 0);
    } else if (change === "added") detail = after.isDirectory ? "folder" : size(after.size ?? 0);
    else if (change === "removed") detail = before.isDirectory ? "folder" : size(before.size ?? 0);
    else if (change === "typeChanged") detail = `${kindOf(before)} → ${kindOf(after)}`;
    else if (before.size !== after.size) detail = `${size(before.size ?? 0)} → ${size(after.size ?? 0)}`;
    else detail = `modified ${dateTime(after.modTime)}`;
    // That snapshot skipped it (unreadable, special, vanished): it may not have changed.
    if (c.skippedIn === "to") detail += " · skipped by the newer snapshot: may still be there";
    else if (c.skippedIn === "from") detail += " · skipped by the older snapshot: may have been there";
    const data = { change, path, type };
    if (change === "sequence") data.action = c.action;
    return el(
      "li",
      { class: `change change-${type}`, dataset: data },
      el("span", { class: "marker", title: kind.label, text: kind.marker }),
      el("span", { class: "sr-only", text: `${kind.label}${change === "sequence" ? " (image sequence)" : ""}: ` }),
      el("span", { class: "change-path", text: shownPath }),
      el("span", { class: "change-detail", text: detail }),
    );
  }
}
