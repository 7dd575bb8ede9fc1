// One project's page (#/projects/{id}): its files, its history, and diffs.

import * as api from "./api.js";
import { DiffView } from "./diff.js";
import { el } from "./dom.js";
import { dateTime, plural } from "./format.js";
import { HistoryView } from "./history.js";
import { isTerminal } from "./hub.js";
import { LiveProgress } from "./live-progress.js";
import { FileTree } from "./tree.js";

const HISTORY_LIMIT = 100; // what GET .../snapshots answers by default

export class ProjectPage {
  #root;
  #hub;
  #q;
  #tree;
  #history;
  #diff;
  #project = null;
  #reload = null;
  #reloadTree = false;
  #liveProgress = new LiveProgress({ small: true });

  /**
   * @param {HTMLElement} root the page's container
   * @param {{hub: import("./hub.js").ProgressHub, onSnapshot: (project: object) => void, onView: (project: object) => void}} deps
   */
  constructor(root, { hub, onSnapshot, onView }) {
    this.#root = root;
    this.#hub = hub;
    this.#q = (part) => root.querySelector(`[data-part="${part}"]`);
    this.#tree = new FileTree(this.#q("tree"), { status: this.#q("tree-status") });
    this.#q("tree-filter").addEventListener("input", (e) => this.#tree.filter(e.target.value));
    this.#diff = new DiffView(this.#q("diff"), { onClose: () => this.#history.mark() });
    this.#history = new HistoryView(
      {
        body: this.#q("history"),
        empty: this.#q("history-empty"),
        from: this.#q("compare-from"),
        to: this.#q("compare-to"),
        compare: this.#q("compare-button"),
      },
      {
        onCompare: (older, newer) => this.#diff.show(this.#project.projectId, older, newer),
        onFiles: (record) => this.#showSnapshotTree(record.snapshotId),
      },
    );
    this.#q("snapshot").addEventListener("click", (e) => {
      if (!this.#project) return;
      if (e.currentTarget.dataset.action === "view") onView(this.#project);
      else onSnapshot(this.#project);
    });
    hub.addEventListener("progress", ({ detail: { event } }) => {
      if (event.projectId !== this.#project?.projectId) return;
      this.#live(event);
      if (!isTerminal(event)) {
        // A new snapshot: list it (as running) right away.
        if (!this.#history.has(event.snapshotId)) this.#schedule(false);
        return;
      }
      // The record is written with the terminal event; reload once things settle.
      this.#schedule(true);
    });
  }

  #schedule(terminal) {
    // One reload per burst of events. A terminal event restarts the wait (its record
    // is written as it is published) and adds the tree; a running one never delays.
    if (!terminal && this.#reload !== null) return;
    this.#reloadTree ||= terminal;
    clearTimeout(this.#reload);
    this.#reload = setTimeout(() => {
      const tree = this.#reloadTree;
      this.#reload = null;
      this.#reloadTree = false;
      this.#refresh(tree);
    }, 150);
  }

  get projectId() {
    return this.#project?.projectId ?? null;
  }

  async open(projectId) {
    this.#project = { projectId, name: projectId };
    const root = this.#root;
    root.dataset.state = "loading";
    this.#q("name").textContent = "";
    this.#q("path").textContent = "";
    this.#q("error").hidden = true;
    this.#diff.hide();
    this.#tree.clear();
    this.#history.clear();
    try {
      const project = await api.getProject(projectId);
      if (this.#project?.projectId !== projectId) return;
      this.#project = project;
      this.#q("name").textContent = project.name;
      this.#q("path").textContent = project.localPath;
      this.#q("path").title = project.localPath;
      document.title = `${project.name} · vidsync`;
    } catch (err) {
      if (this.#project?.projectId !== projectId) return;
      this.#project = null;
      this.#q("error").textContent =
        err.status === 404 ? "This project does not exist (any more)." : `Cannot load the project: ${err.message}`;
      this.#q("error").hidden = false;
      root.dataset.state = "missing";
      return;
    }
    this.#live(this.#hub.latest(projectId));
    await this.#refresh(true);
    if (this.#project?.projectId === projectId) root.dataset.state = "ready";
  }

  close() {
    clearTimeout(this.#reload);
    this.#reload = null;
    this.#reloadTree = false;
    this.#project = null;
    this.#diff.hide();
    this.#tree.clear();
    this.#history.clear();
  }

  async #refresh(withTree) {
    const projectId = this.projectId;
    if (!projectId) return;
    const records = await this.#loadHistory(projectId);
    if (!withTree || this.projectId !== projectId) return;
    // Without a completed snapshot the tree route answers 404: say so without asking
    // (the browser would log the 404). A history cut at its limit may hide one.
    const known = records !== null && records.length < HISTORY_LIMIT;
    if (known && !records.some((r) => r.state === "completed")) this.#noTree(null);
    else await this.#loadTree(projectId);
  }

  async #loadHistory(projectId) {
    const error = this.#q("history-error");
    try {
      const records = await this.#history.load(projectId);
      error.hidden = true;
      return records;
    } catch (err) {
      error.textContent = `Cannot load the history: ${err.message}`;
      error.hidden = false;
      return null;
    }
  }

  async #showSnapshotTree(snapshotId) {
    if (!this.#project) return;
    await this.#loadTree(this.#project.projectId, snapshotId);
    this.#q("tree").closest("section").scrollIntoView({ block: "nearest" });
  }

  async #loadTree(projectId, snapshotId = null) {
    const info = this.#q("tree-snapshot");
    try {
      const answer = await this.#tree.load(projectId, snapshotId);
      if (this.projectId !== projectId) return;
      const s = answer.snapshot;
      info.textContent = `Snapshot of ${dateTime(s.finishedAt ?? s.startedAt)} · ${plural(s.fileCount ?? 0, "file")} · ${s.totalSize ?? "0 B"}`;
      info.dataset.snapshotId = s.snapshotId;
      this.#q("tree-empty").hidden = true;
      this.#q("tree-head").hidden = false;
      this.#q("tree-filter-box").hidden = false;
    } catch (err) {
      if (this.projectId === projectId) this.#noTree(err);
    }
  }

  /** The empty state: no completed snapshot (err null or a 404), or the error. */
  #noTree(err) {
    const missing = err === null || err.status === 404;
    const info = this.#q("tree-snapshot");
    this.#tree.clear();
    info.textContent = "";
    delete info.dataset.snapshotId;
    this.#q("tree-head").hidden = true;
    this.#q("tree-filter-box").hidden = true;
    const empty = this.#q("tree-empty");
    empty.replaceChildren(
      el("p", {}, el("strong", { text: missing ? "No completed snapshot yet." : "Cannot show the files." })),
      el("p", { text: missing ? "Take a snapshot to see what is in this folder." : err.message }),
    );
    empty.hidden = false;
  }

  #live(event) {
    const line = this.#q("live");
    const button = this.#q("snapshot");
    const running = event !== null && !isTerminal(event);
    const action = running ? "view" : "snapshot";
    if (button.dataset.action !== action) {
      button.dataset.action = action;
      button.textContent = running ? "View progress" : "Snapshot now";
    }
    line.hidden = !running;
    if (!running) return;
    if (!line.contains(this.#liveProgress.node)) line.replaceChildren(this.#liveProgress.node);
    this.#liveProgress.show(event, this.#project?.name ?? event.projectId);
  }
}
