// Progress of every project through one multiplexed SSE connection.
//
// The page needs one connection, not one per project: the hub reads
// GET /api/v1/progress/stream and hands each project's events to whoever
// watches it (its row, the progress modal). Events are deduplicated by their
// per-project id (which survives agent restarts), so a replay after a
// reconnect or a poll answer never shows a state twice.

import { ProgressClient } from "./progress-client.js";
import { ApiError, health, pollProgress } from "./api.js";
import { isTerminalStep } from "./config.js";

const KEPT_EVENTS = 500;

export const isTerminal = (event) => isTerminalStep(event?.step);

/** A batch snapshot reserved but waiting for a free slot (the event's `queued` field). */
export const isQueued = (event) => !isTerminal(event) && event?.queued === true;

export class ProgressHub extends EventTarget {
  #projects = new Map();

  /** @param {import("./config.js").DEFAULT_CONFIG} config */
  constructor(config) {
    super();
    this.config = config;
    this.client = new ProgressClient({
      url: "/api/v1/progress/stream",
      poll: () => this.#poll(),
      backoff: config.backoff,
      heartbeatSeconds: config.heartbeatSeconds,
      pollIntervalMs: config.pollIntervalMs,
    });
    this.client.addEventListener("progress", (e) => this.accept(e.detail));
  }

  start() {
    this.client.start();
  }

  #project(projectId) {
    let p = this.#projects.get(projectId);
    if (!p) {
      p = { lastId: 0, snapshotId: null, events: [], latest: null, watchers: new Set() };
      this.#projects.set(projectId, p);
    }
    return p;
  }

  /** Take one event (from the stream, a poll, or the projects list). */
  accept(event) {
    if (!event || !event.projectId || !event.snapshotId || event.step === "idle") return;
    const p = this.#project(event.projectId);
    if (event.id <= p.lastId) return; // already seen: a replay or an older poll answer
    const live = p.latest !== null && p.latest.snapshotId === event.snapshotId && !isTerminal(p.latest);
    p.lastId = event.id;
    if (event.snapshotId !== p.snapshotId) {
      p.snapshotId = event.snapshotId;
      p.events = [];
    }
    p.events.push(event);
    if (p.events.length > KEPT_EVENTS) p.events.splice(1, p.events.length - KEPT_EVENTS);
    p.latest = event;
    for (const watcher of [...p.watchers]) watcher.deliver(event);
    // `live`: the page saw this snapshot running, so an end is news (toasts).
    this.dispatchEvent(new CustomEvent("progress", { detail: { event, live } }));
  }

  latest(projectId) {
    return this.#projects.get(projectId)?.latest ?? null;
  }

  /** Forget a deleted project. */
  forget(projectId) {
    const p = this.#projects.get(projectId);
    if (p) {
      for (const watcher of p.watchers) watcher.close();
      this.#projects.delete(projectId);
    }
  }

  /**
   * Follow one snapshot: what the hub already has of it, then every new event,
   * until its terminal event. Returns a handle with close().
   */
  watch(projectId, snapshotId, listener) {
    const p = this.#project(projectId);
    const watcher = {
      deliver: (event) => {
        if (event.snapshotId !== snapshotId) return;
        listener(event);
        if (isTerminal(event)) watcher.close();
      },
      close: () => p.watchers.delete(watcher),
    };
    const backlog = p.snapshotId === snapshotId ? [...p.events] : [];
    p.watchers.add(watcher);
    for (const event of backlog) {
      if (!p.watchers.has(watcher)) break;
      watcher.deliver(event);
    }
    return watcher;
  }

  // The polling fallback asks for the projects that are running or watched.
  async #poll() {
    const ids = [];
    for (const [id, p] of this.#projects) {
      if (p.watchers.size || (p.latest && !isTerminal(p.latest))) ids.push(id);
    }
    if (!ids.length) {
      await health(); // nothing to follow: still find out whether the agent answers
      return [];
    }
    const answers = await Promise.all(ids.map((id) => pollProgress(id).catch((err) => err)));
    const events = answers.filter((a) => !(a instanceof Error));
    // Every poll failed without an answer: the agent is down, say so (the client
    // shows it); a project's own error (a 404 once deleted) is not that.
    const down = answers.find((a) => a instanceof ApiError && a.status === 0);
    if (!events.length && down) throw down;
    return events;
  }
}
