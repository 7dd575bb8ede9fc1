// Other agents' snapshots, from the same all-projects stream (the team view).
//
// Agents that share a Redis bus forward each other's events: they carry the
// `agent` that runs them. This card lists the running ones (and a finished one
// for a short while), labelled with the agent's name.

import { el } from "./dom.js";
import { stepLabel } from "./format.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const SHOW_FINISHED_MS = 15000;

export class TeamView {
  #rows = new Map(); // "agent/projectId" -> latest event
  #timers = new Map();

  /** @param {HTMLElement} card @param {HTMLElement} list */
  constructor(card, list) {
    this.card = card;
    this.list = list;
  }

  accept(event) {
    const key = `${event.agent}/${event.projectId}`;
    const known = this.#rows.get(key);
    if (known && known.snapshotId === event.snapshotId && event.id <= known.id) return;
    this.#rows.set(key, event);
    clearTimeout(this.#timers.get(key));
    if (TERMINAL.has(event.step)) {
      this.#timers.set(key, setTimeout(() => { this.#rows.delete(key); this.#render(); }, SHOW_FINISHED_MS));
    }
    this.#render();
  }

  #render() {
    const rows = [...this.#rows.values()].sort((a, b) =>
      `${a.agent}/${a.projectId}`.localeCompare(`${b.agent}/${b.projectId}`));
    this.list.replaceChildren(
      ...rows.map((e) =>
        el(
          "li",
          { class: "team-row", dataset: { agent: e.agent, project: e.projectId, step: e.step } },
          el("span", { class: "team-agent", text: e.agent }),
          el("span", { class: "team-project mono", text: e.projectId }),
          el("span", { class: "team-step", text: stepLabel(e) }),
          el("span", { class: "team-progress", text: `${e.progress}%` }),
        ),
      ),
    );
    this.card.hidden = rows.length === 0;
  }
}
