// The projects list: one row per project, with its latest snapshot or live progress.

import { ago, count, stepLabel } from "./format.js";
import { el } from "./dom.js";
import { isQueued, isTerminal } from "./hub.js";

const STATE_LABELS = { completed: "Completed", failed: "Failed", cancelled: "Cancelled" };

export class ProjectsView {
  #list;
  #empty;
  #count;
  #hub;
  #projects = new Map();
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
    for (const box of this.#list.querySelectorAll("input[data-action=select]")) {
      box.checked = this.#selected.has(box.closest("[data-project-id]").dataset.projectId);
    }
    this.#list.dispatchEvent(new CustomEvent("selectionchange", { bubbles: true }));
  }

  has(projectId) {
    return this.#projects.has(projectId);
  }

  get(projectId) {
    return this.#projects.get(projectId) ?? null;
  }

  /** Replace the list (keeps focus on a row's button when it is re-rendered). */
  setProjects(projects) {
    const focused = document.activeElement?.closest?.("[data-project-id]");
    const focusKey = focused
      ? [focused.dataset.projectId, document.activeElement.dataset.action]
      : null;
    this.#projects = new Map(projects.map((p) => [p.projectId, p]));
    this.#selected = new Set([...this.#selected].filter((id) => this.#projects.has(id)));
    this.#list.replaceChildren(...projects.map((p) => this.#row(p)));
    this.#empty.hidden = projects.length > 0;
    this.#count.textContent = projects.length ? `${projects.length}` : "";
    this.#list.dispatchEvent(new CustomEvent("selectionchange", { bubbles: true }));
    if (focusKey) {
      const row = this.#rowOf(focusKey[0]);
      row?.querySelector(`[data-action="${focusKey[1]}"]`)?.focus();
    }
  }

  /** A live event: redraw that project's status cell and actions. */
  update(event) {
    const project = this.#projects.get(event.projectId);
    const row = this.#rowOf(event.projectId);
    if (!project || !row) return;
    const active = document.activeElement;
    const action = row.contains(active) ? active.dataset.action : null;
    const fresh = this.#row(project);
    row.replaceWith(fresh);
    if (action) {
      (fresh.querySelector(`[data-action="${action}"]`) ?? fresh.querySelector("button"))?.focus();
    }
  }

  #rowOf(projectId) {
    return this.#list.querySelector(`[data-project-id="${CSS.escape(projectId)}"]`);
  }

  #row(project) {
    const live = this.#hub.latest(project.projectId);
    const running = live !== null && !isTerminal(live);
    const queued = running && isQueued(live);
    const href = `#/projects/${encodeURIComponent(project.projectId)}`;
    const heading = el("h3", { class: "project-name" }, el("a", { href, text: project.name, title: "Files and history" }));
    const select = el("input", {
      type: "checkbox",
      class: "row-check",
      dataset: { action: "select" },
      "aria-label": `Select ${project.name}`,
      checked: this.#selected.has(project.projectId),
    });
    const path = el("p", { class: "project-path", title: project.localPath, text: project.localPath });
    const status = running ? this.#progress(project, live) : this.#latest(project, live);
    const primary = running
      ? el("button", { type: "button", class: "btn", dataset: { action: "view" } }, "View progress")
      : el("button", { type: "button", class: "btn", dataset: { action: "snapshot" } }, "Snapshot now");
    primary.setAttribute("aria-label", `${primary.textContent}: ${project.name}`);
    const remove = el(
      "button",
      { type: "button", class: "btn btn-ghost btn-danger", dataset: { action: "delete" } },
      "Delete",
    );
    remove.setAttribute("aria-label", `Delete ${project.name}`);
    return el(
      "li",
      {
        class: "project",
        dataset: {
          projectId: project.projectId,
          state: queued ? "queued" : running ? "running" : (live?.step ?? project.latestSnapshot?.state ?? "none"),
        },
      },
      select,
      el("div", { class: "project-main" }, heading, path),
      el("div", { class: "project-status" }, status),
      el("div", { class: "project-actions" }, primary, remove),
    );
  }

  #progress(project, event) {
    const bar = el(
      "div",
      {
        class: "bar bar-small",
        role: "progressbar",
        "aria-valuemin": "0",
        "aria-valuemax": "100",
        "aria-valuenow": String(event.progress),
        "aria-label": `Snapshot progress of ${project.name}`,
      },
      el("div", { class: "bar-fill", style: `width: ${event.progress}%` }),
    );
    const step = Math.max(event.stepNumber, 1);
    const text = isQueued(event)
      ? el("p", { class: "status-line" }, el("span", { class: "badge badge-queued", text: "Queued" }), " waiting for a free batch slot")
      : el("p", {
          class: "status-line",
          text: `Step ${step} of 6 · ${stepLabel(event)} · ${event.progress}%`,
        });
    return el("div", { class: "row-progress", dataset: { part: "live" } }, bar, text);
  }

  #latest(project, live) {
    // The live terminal event is newer than the list until the list is reloaded.
    const record = project.latestSnapshot;
    let state;
    let parts = [];
    let error = null;
    if (live && (!record || record.snapshotId !== live.snapshotId || record.state === "running")) {
      state = live.step;
      if (live.fileCount !== null && live.fileCount !== undefined) parts.push(`${count(live.fileCount)} files`);
      if (live.totalSize) parts.push(live.totalSize);
      parts.push(ago(live.timestamp));
      error = live.error ?? null;
    } else if (record) {
      state = record.state;
      if (record.fileCount !== null) parts.push(`${count(record.fileCount)} files`);
      if (record.totalSize) parts.push(record.totalSize);
      parts.push(ago(record.finishedAt ?? record.startedAt));
      error = record.error;
    } else {
      return el("p", { class: "status-line muted", text: "No snapshot yet" });
    }
    parts = parts.filter(Boolean);
    const badge = el("span", { class: `badge badge-${state}`, text: STATE_LABELS[state] ?? state });
    const meta = el("span", { class: "status-meta", text: parts.join(" · ") });
    const line = el("p", { class: "status-line" }, badge, " ", meta);
    if (!error || state !== "failed") return line;
    return el("div", {}, line, el("p", { class: "status-error", title: error, text: error }));
  }
}
