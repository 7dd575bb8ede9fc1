// The projects list: one row per project, with its latest snapshot or live progress.
//
// Rows are built once and then updated in place: a live event changes a few
// texts and attributes, never the row's elements, so a click in progress, the
// keyboard focus and a text selection survive every event.

import { el } from "./dom.js";
import { ago, count, displayState, plural, skippedText } from "./format.js";
import { isTerminal } from "./hub.js";
import { stateLabel } from "./config.js";
import { LiveProgress } from "./live-progress.js";

const set = (node, text) => {
  if (node.textContent !== text) node.textContent = text;
};

export class ProjectsView {
  #list;
  #empty;
  #count;
  #hub;
  #projects = new Map();
  #rows = new Map();
  #selected = new Set();

  /**
   * @param {{list: HTMLElement, empty: HTMLElement, count: HTMLElement}} elements
   * @param {{hub: import("./hub.js").ProgressHub, onAction: (action: string, project: object) => void}} deps
   */
  constructor({ list, empty, count: counter }, { hub, onAction }) {
    this.#list = list;
    this.#empty = empty;
    this.#count = counter;
    this.#hub = hub;
    list.addEventListener("change", (e) => {
      const box = e.target.closest("input[data-action=select]");
      const row = e.target.closest("[data-project-id]");
      if (!box || !row) return;
      if (box.checked) this.#selected.add(row.dataset.projectId);
      else this.#selected.delete(row.dataset.projectId);
      list.dispatchEvent(new CustomEvent("selectionchange", { bubbles: true }));
    });
    list.addEventListener("click", (e) => {
      const button = e.target.closest("button[data-action]");
      const row = e.target.closest("[data-project-id]");
      if (!button || !row) return;
      const project = this.#projects.get(row.dataset.projectId);
      if (project) onAction(button.dataset.action, project);
    });
  }

  /** Ids of the checked projects, in list order. */
  get selected() {
    return [...this.#projects.keys()].filter((id) => this.#selected.has(id));
  }

  get size() {
    return this.#projects.size;
  }

  /** Ids of every listed project, in list order. */
  get ids() {
    return [...this.#projects.keys()];
  }

  select(ids) {
    this.#selected = new Set(ids);
    for (const [id, row] of this.#rows) row.check.checked = this.#selected.has(id);
    this.#list.dispatchEvent(new CustomEvent("selectionchange", { bubbles: true }));
  }

  has(projectId) {
    return this.#projects.has(projectId);
  }

  get(projectId) {
    return this.#projects.get(projectId) ?? null;
  }

  /** Show this list: rows of known projects are updated, not rebuilt. */
  setProjects(projects) {
    this.#projects = new Map(projects.map((p) => [p.projectId, p]));
    this.#selected = new Set([...this.#selected].filter((id) => this.#projects.has(id)));
    for (const [id, row] of this.#rows) {
      if (!this.#projects.has(id)) {
        row.node.remove();
        this.#rows.delete(id);
      }
    }
    let previous = null;
    for (const project of projects) {
      let row = this.#rows.get(project.projectId);
      if (!row) {
        row = this.#build(project);
        this.#rows.set(project.projectId, row);
      }
      this.#fill(row, project);
      // Move a row only when it is out of place: moving a node drops its focus.
      const wanted = previous ? previous.nextElementSibling : this.#list.firstElementChild;
      if (wanted !== row.node) {
        if (previous) previous.after(row.node);
        else this.#list.prepend(row.node);
      }
      previous = row.node;
    }
    this.#empty.hidden = projects.length > 0;
    this.#count.textContent = projects.length ? count(projects.length) : "";
    this.#list.dispatchEvent(new CustomEvent("selectionchange", { bubbles: true }));
  }

  /** A live event: update that project's row in place. */
  update(event) {
    const project = this.#projects.get(event.projectId);
    const row = this.#rows.get(event.projectId);
    if (project && row) this.#fill(row, project);
  }

  #build(project) {
    const link = el("a", { href: `#/projects/${encodeURIComponent(project.projectId)}`, title: "Files and history" });
    const check = el("input", { type: "checkbox", class: "row-check", dataset: { action: "select" } });
    const path = el("p", { class: "project-path" });
    const summary = el("div", { class: "row-summary", dataset: { part: "summary" } });
    const live = new LiveProgress({ small: true });
    live.node.dataset.part = "live";
    const primary = el("button", { type: "button", class: "btn" });
    const remove = el("button", { type: "button", class: "btn btn-ghost btn-danger", dataset: { action: "delete" } }, "Delete");
    const node = el(
      "li",
      { class: "project", dataset: { projectId: project.projectId } },
      check,
      el("div", { class: "project-main" }, el("h3", { class: "project-name" }, link), path),
      el("div", { class: "project-status" }, summary, live.node),
      el("div", { class: "project-actions" }, primary, remove),
    );
    return { node, link, check, path, summary, live, primary, remove, summaryKey: null };
  }

  #fill(row, project) {
    const event = this.#hub.latest(project.projectId);
    const running = event !== null && !isTerminal(event);
    set(row.link, project.name);
    set(row.path, project.localPath);
    row.path.title = project.localPath;
    row.check.setAttribute("aria-label", `Select ${project.name}`);
    row.check.checked = this.#selected.has(project.projectId);
    row.remove.setAttribute("aria-label", `Delete ${project.name}`);

    const outcome = this.#outcome(project, event);
    const state = running ? displayState(event) : (outcome?.state ?? "none");
    if (row.node.dataset.state !== state) row.node.dataset.state = state;
    row.live.node.hidden = !running;
    row.summary.hidden = running;
    if (running) row.live.show(event, project.name);
    else this.#summary(row, outcome);

    const action = running ? "view" : state === "failed" ? "retry" : "snapshot";
    const label = { view: "View progress", retry: "Retry", snapshot: "Snapshot now" }[action];
    if (row.primary.dataset.action !== action) {
      row.primary.dataset.action = action; // same element: focus stays on it
      row.primary.classList.toggle("btn-retry", action === "retry");
    }
    set(row.primary, label);
    row.primary.setAttribute("aria-label", `${label}: ${project.name}`);
  }

  /** The latest outcome: the live terminal event is newer than the list until it reloads. */
  #outcome(project, live) {
    const record = project.latestSnapshot;
    if (live && isTerminal(live) && (!record || record.snapshotId !== live.snapshotId || record.state === "running")) {
      return {
        key: `${live.snapshotId}:${live.id}`,
        state: displayState(live),
        fileCount: live.fileCount,
        totalSize: live.totalSize,
        when: live.timestamp,
        error: live.error ?? null,
        skipped: skippedText(live),
      };
    }
    if (!record || record.state === "running") return null;
    return {
      key: `${record.snapshotId}:${record.state}`,
      state: displayState(record),
      fileCount: record.fileCount,
      totalSize: record.totalSize,
      when: record.finishedAt ?? record.startedAt,
      error: record.error,
      skipped: skippedText(record),
    };
  }

  #summary(row, outcome) {
    const key = outcome ? `${outcome.key}:${ago(outcome.when)}` : "none";
    if (row.summaryKey === key) return; // nothing new: leave the nodes (and any selection) alone
    row.summaryKey = key;
    if (!outcome) {
      row.summary.replaceChildren(el("p", { class: "status-line muted", text: "No snapshot yet" }));
      return;
    }
    const parts = [];
    if (outcome.fileCount !== null && outcome.fileCount !== undefined) parts.push(plural(outcome.fileCount, "file"));
    if (outcome.totalSize) parts.push(outcome.totalSize);
    parts.push(ago(outcome.when));
    const badge = el("span", { class: `badge badge-${outcome.state}`, text: stateLabel(outcome.state) });
    const line = el("p", { class: "status-line" }, badge, " ", el("span", { class: "status-meta", text: parts.filter(Boolean).join(" · ") }));
    const extra = [];
    if (outcome.state === "failed" && outcome.error) {
      extra.push(el("p", { class: "status-error", title: outcome.error, text: outcome.error }));
    }
    if (outcome.state === "completedWithWarnings" && outcome.skipped) {
      extra.push(el("p", { class: "status-warning", text: outcome.skipped }));
    }
    row.summary.replaceChildren(line, ...extra);
  }
}
