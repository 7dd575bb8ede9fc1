// The progress client: one SSE connection with reconnection, a heartbeat
// watchdog and a polling fallback from the first failed attempt, while the
// stream is retried in the background (DESIGN section 5).
//
// States: "idle" (not started), "connected" (stream open), "reconnecting"
// (lost; retrying, and polling once `polling` is true), "disconnected"
// (stopped: by stop(), by a terminal event, or by a 204 from the agent).

import { DEFAULT_CONFIG } from "./config.js";
import { readEventStream } from "./sse.js";
import { watchFallback } from "./telemetry.js";

/** Failed attempts in a row after which the client polls while it keeps retrying:
 * the first, so the screen keeps moving within a poll interval. */
export const FAILURES_BEFORE_POLLING = 1;

/**
 * The wait before the next attempt after `waits` waits in a row: delaysMs[waits],
 * capped at the last one, spread by ±jitter. The same rule as the Python client's
 * Backoff.delay (vidsync/client/backoff.py).
 */
export function backoffDelay(waits, { delaysMs, jitter }, random = Math.random) {
  const nominal = delaysMs[Math.min(Math.max(waits, 0), delaysMs.length - 1)];
  return nominal * (1 - jitter + 2 * jitter * random());
}

export class ProgressClient extends EventTarget {
  #url;
  #poll;
  #isFinal;
  #backoff;
  #waits = 0;
  #heartbeatMs;
  #pollMs;
  #random;
  #controller = null;
  #retryTimer = null;
  #pollTimer = null;
  #watchdog = null;
  #stopped = false;

  /**
   * @param {object} options
   * @param {string} options.url  the SSE stream
   * @param {() => Promise<object[]>} [options.poll]  current states, for the polling fallback
   * @param {(event: object) => boolean} [options.isFinal]  stop after this event
   * @param {{delaysMs: number[], jitter: number}} [options.backoff]  the agent's schedule
   * @param {number} [options.heartbeatSeconds]  silence for twice this means a dead connection
   * @param {number} [options.pollIntervalMs]
   * @param {() => number} [options.random]  for the jitter
   */
  constructor({
    url,
    poll = null,
    isFinal = () => false,
    backoff = DEFAULT_CONFIG.backoff,
    heartbeatSeconds = DEFAULT_CONFIG.heartbeatSeconds,
    pollIntervalMs = DEFAULT_CONFIG.pollIntervalMs,
    random = Math.random,
  }) {
    super();
    this.#url = url;
    this.#poll = poll;
    this.#isFinal = isFinal;
    this.#backoff = backoff;
    this.#heartbeatMs = heartbeatSeconds * 1000;
    this.#pollMs = pollIntervalMs;
    this.pollIntervalMs = pollIntervalMs;
    this.#random = random;
    this.state = "idle";
    this.polling = false;
    this.pollFailing = false; // polling, and the last poll got no answer either
    this.failures = 0;
    this.everConnected = false; // no "connection lost" before a first connection
    this.lastEventId = null;
    this.nextAttemptAt = null;
    this.retryInMs = null;
    watchFallback(this, url);
  }

  start() {
    if (this.state !== "idle") return;
    this.#connect();
  }

  stop() {
    this.#stopped = true;
    this.#controller?.abort();
    this.#controller = null;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#watchdog);
    this.#stopPolling();
    this.nextAttemptAt = null;
    this.#setState("disconnected");
  }

  async #connect() {
    clearTimeout(this.#retryTimer);
    this.nextAttemptAt = null;
    const controller = new AbortController();
    this.#controller = controller;
    const headers = { Accept: "text/event-stream" };
    if (this.lastEventId !== null) headers["Last-Event-ID"] = this.lastEventId;
    let opened = false;
    let finished = false;
    this.#armWatchdog(controller); // an answer that never comes is a failed attempt too
    try {
      const response = await fetch(this.#url, {
        headers,
        cache: "no-store",
        signal: controller.signal,
      });
      if (response.status === 204) {
        finished = true; // the agent says this stream already ended
      } else {
        const type = response.headers.get("content-type") || "";
        if (!response.ok || !type.startsWith("text/event-stream")) {
          throw new Error(`progress stream answered ${response.status}`);
        }
        opened = true;
        this.failures = 0;
        this.#waits = 0;
        this.everConnected = true;
        this.#stopPolling();
        this.#setState("connected");
        this.#armWatchdog(controller);
        await readEventStream(response.body, {
          onActivity: () => this.#armWatchdog(controller),
          onEvent: (message) => {
            if (controller !== this.#controller) return;
            if (message.id !== null) this.lastEventId = message.id;
            let event;
            try {
              event = JSON.parse(message.data);
            } catch {
              return; // not ours: ignore rather than die
            }
            this.#deliver(event);
            if (this.#isFinal(event)) finished = true;
          },
        });
      }
    } catch {
      // network error, refused, aborted by the watchdog, or a bad answer: retry below
    } finally {
      clearTimeout(this.#watchdog);
    }
    if (this.#stopped || controller !== this.#controller) return;
    if (finished) {
      this.stop();
      return;
    }
    this.#scheduleRetry(opened);
  }

  #scheduleRetry(wasOpen) {
    if (!wasOpen) this.failures += 1;
    if (this.failures >= FAILURES_BEFORE_POLLING && this.#poll && !this.polling) {
      this.#startPolling();
    }
    // The delay is looked up by the waits so far, before counting this one: 1, 2, 4 s.
    const delay = backoffDelay(this.#waits, this.#backoff, this.#random);
    this.#waits += 1;
    this.retryInMs = delay;
    this.nextAttemptAt = Date.now() + delay;
    this.#setState("reconnecting", true);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #armWatchdog(controller) {
    clearTimeout(this.#watchdog);
    this.#watchdog = setTimeout(() => {
      // Nothing, not even a heartbeat, for two intervals: the connection is dead.
      if (controller === this.#controller) controller.abort();
    }, 2 * this.#heartbeatMs);
  }

  #startPolling() {
    this.polling = true;
    this.#emitState();
    this.#pollOnce();
  }

  #stopPolling() {
    clearTimeout(this.#pollTimer);
    if (this.polling) {
      this.polling = false;
      this.pollFailing = false;
      this.#emitState();
    }
  }

  async #pollOnce() {
    if (!this.polling || this.#stopped) return;
    let events;
    try {
      events = await this.#poll();
    } catch {
      // the agent may be down as well: say so, and keep trying at the same pace
      this.#setPollFailing(true);
    }
    if (events) {
      this.#setPollFailing(false);
      for (const event of events) {
        if (!this.polling) return;
        this.#deliver(event);
        if (this.#isFinal(event)) {
          this.stop();
          return;
        }
      }
    }
    if (this.polling && !this.#stopped) {
      this.#pollTimer = setTimeout(() => this.#pollOnce(), this.#pollMs);
    }
  }

  #setPollFailing(failing) {
    if (this.pollFailing === failing) return;
    this.pollFailing = failing;
    this.#emitState();
  }

  #deliver(event) {
    this.dispatchEvent(new CustomEvent("progress", { detail: event }));
  }

  #setState(state, force = false) {
    if (this.state === state && !force) return;
    this.state = state;
    this.#emitState();
  }

  #emitState() {
    this.dispatchEvent(
      new CustomEvent("statechange", {
        detail: {
          state: this.state,
          polling: this.polling,
          pollFailing: this.pollFailing,
          failures: this.failures,
          everConnected: this.everConnected,
          retryInMs: this.retryInMs,
          nextAttemptAt: this.nextAttemptAt,
        },
      }),
    );
  }
}
