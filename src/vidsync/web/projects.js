// The projects list: one row per project, with its latest snapshot or live progress.

import { ago, count, stepLabel } from "./format.js";
import { isTerminal } from "./hub.js";

const STATE_LABELS = { completed: "Completed", failed: "Failed", cancelled: "Cancelled" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export class ProjectsView {
  #list;
  #empty;
  #count;
  #hub;
  #projects = new Map();

  /**
   * @param {{list: HTMLElement, empty: HTMLElement, count: HTMLElement}} elements
   * @param {{hub: import("./hub.js").ProgressHub, onAction: (action: string, project: object) => void}} deps
   */
  constructor({ list, empty, count: counter }, { hub, onAction }) {
    this.#list = list;
    this.#empty = empty;
    this.#count = counter;
    this.#hub = hub;
    list.addEventListener("click", (e) => {
      const button = e.target.closest("button[data-action]");
      const row = e.target.closest("[data-project-id]");
      if (!button || !row) return;
      const project = this.#projects.get(row.dataset.projectId);
      if (project) onAction(button.dataset.action, project);
    });
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
    this.#list.replaceChildren(...projects.map((p) => this.#row(p)));
    this.#empty.hidden = projects.length > 0;
    this.#count.textContent = projects.length ? `${projects.length}` : "";
    if (focusKey) {
      const row = this.#rowOf(focusKey[0]);
      row?.querySelector(`button[data-action="${focusKey[1]}"]`)?.focus();
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
      (fresh.querySelector(`button[data-action="${action}"]`) ?? fresh.querySelector("button"))?.focus();
    }
  }

  #rowOf(projectId) {
    return this.#list.querySelector(`[data-project-id="${CSS.escape(projectId)}"]`);
  }

  #row(project) {
    const live = this.#hub.latest(project.projectId);
    const running = live !== null && !isTerminal(live);
    const heading = el("h3", { class: "project-name", text: project.name });
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
        dataset: { projectId: project.projectId, state: running ? "running" : (live?.step ?? project.latestSnapshot?.state ?? "none") },
      },
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
    const text = el("p", {
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
