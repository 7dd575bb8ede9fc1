// The browser's side of the agent's link metrics (the same rules as the Python
// client's vidsync/client/telemetry.py): when a ProgressClient starts polling, tell
// the agent how long it took since the stream was seen lost or refused, and how many
// stream attempts failed on the way. Reports wait for polling because that is when
// the agent is known to answer again. Fire-and-forget: a failed report is dropped.

const PATH = "/api/v1/client-metrics";
const MAX_ERRORS_PER_REPORT = 50;

/** Where the reports go: the agent that serves `streamUrl`. */
export function reportUrl(streamUrl) {
  const base = globalThis.location?.href ?? "http://127.0.0.1/";
  return new URL(PATH, new URL(streamUrl, base)).href;
}

// One after the other, the fallback last: whoever reads /metrics and sees the
// fallback counted sees every failed attempt before it counted too.
async function send(url, bodies) {
  for (const body of bodies) {
    try {
      await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        keepalive: true,
      });
    } catch {
      // no fetch, or a refused request: telemetry never breaks the page
    }
  }
}

/**
 * Follow `client`'s "statechange" events and report its fallback to polling.
 * @param {EventTarget} client  a ProgressClient
 * @param {string} streamUrl
 * @param {{now?: () => number, post?: (url: string, bodies: object[]) => void}} [options]
 */
export function watchFallback(client, streamUrl, { now = () => performance.now(), post = send } = {}) {
  const url = reportUrl(streamUrl);
  let lostAt = null;
  let errors = 0;
  let reported = false;
  let lastAttempt = null;
  client.addEventListener("statechange", (e) => {
    const { state, polling, nextAttemptAt } = e.detail;
    if (state === "connected") {
      lostAt = null;
      errors = 0;
      reported = false;
      lastAttempt = null;
      return;
    }
    if (state !== "reconnecting") return;
    if (lostAt === null) lostAt = now();
    if (nextAttemptAt !== lastAttempt) {
      lastAttempt = nextAttemptAt; // a new retry was scheduled: one more failed attempt
      if (!reported) errors += 1;
    }
    if (polling && !reported) {
      reported = true;
      const seconds = Math.max(0, (now() - lostAt) / 1000);
      const error = { kind: "sse-error", client: "web" };
      const bodies = Array(Math.min(errors, MAX_ERRORS_PER_REPORT)).fill(error);
      bodies.push({ kind: "fallback", client: "web", seconds });
      post(url, bodies);
    }
  });
}
