// Numbers as people read them: thousands separators, plurals, and sizes in
// 1024-based units labelled as such ("2.4 GiB"), as the agent writes them.

import { isTerminalStep, stateLabel, stepName } from "./config.js";

const numbers = new Intl.NumberFormat("en-US");

export function count(n) {
  return numbers.format(n);
}

/** "1 file", "30,015 files". */
export function plural(n, one, many = `${one}s`) {
  return `${count(n)} ${n === 1 ? one : many}`;
}

export function size(bytes) {
  let value = bytes;
  for (const unit of ["B", "KiB", "MiB", "GiB", "TiB"]) {
    if (value < 1024 || unit === "TiB") {
      return unit === "B" ? `${Math.trunc(value)} B` : `${value.toFixed(1)} ${unit}`;
    }
    value /= 1024;
  }
  return `${bytes} B`;
}

/** Rate in the step's units: entries while browsing and compressing, bytes while uploading. */
export function rate(event) {
  if (event.rate === null || event.rate === undefined) return null;
  if (event.stepNumber === 5) return `${size(event.rate)}/s`;
  if (event.stepNumber === 3 || event.stepNumber === 4) {
    return `${count(Math.round(event.rate))} entries/s`;
  }
  return null;
}

/** "About 2 min left", "estimating...", or "" when there is nothing to tell. */
export function eta(event) {
  if (isTerminalStep(event.step)) return ""; // ended: no time is left to tell
  if (event.etaSeconds !== null && event.etaSeconds !== undefined) {
    return event.etaSeconds < 1 ? "Almost done" : `About ${duration(event.etaSeconds)} left`;
  }
  return event.queued ? "" : "Estimating time left...";
}

/** Work done in the step: "12,000 of ~30,000 files" while browsing, "1.2 MiB of 3.0 MiB" uploading. */
export function stepWork(event) {
  if (event.retry) {
    const { attempt, maxAttempts, delaySeconds } = event.retry;
    return `retrying in ${duration(delaySeconds ?? 0)} (attempt ${attempt} of ${maxAttempts})`;
  }
  const done = event.stepDone;
  if (done === null || done === undefined) return "";
  const total = event.stepTotal;
  if (event.stepNumber === 5) {
    return total ? `${size(done)} of ${size(total)}` : size(done);
  }
  if (event.stepNumber === 3) {
    // While browsing, the total is what the folder (or the last snapshot) said: an estimate.
    return total ? `${count(done)} of ~${plural(Math.round(total), "entry", "entries")}` : plural(done, "entry", "entries");
  }
  if (event.stepNumber === 4 && total) return `${count(done)} of ${plural(total, "entry", "entries")}`;
  return "";
}

export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function ago(isoTime, now = Date.now()) {
  const seconds = (now - Date.parse(isoTime)) / 1000;
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(isoTime).toLocaleDateString();
}

export function stepLabel(event) {
  if (event.step === "failed" || event.step === "cancelled") return stateLabel(event.step);
  if (event.queued) return stateLabel("queued");
  return stepName(event.stepNumber);
}

/**
 * The state a snapshot shows as: running, queued, completed, completedWithWarnings
 * (completed with skipped entries), failed or cancelled. Works on events and records.
 */
export function displayState(item) {
  const state = item.state ?? item.step;
  if (state === "completed") return item.skippedCount > 0 ? "completedWithWarnings" : "completed";
  if (state === "failed" || state === "cancelled") return state;
  if (item.queued) return "queued";
  return "running";
}

/** "3 entries skipped (2 vanished, 1 unreadable)". */
export function skippedText(item) {
  const n = item.skippedCount ?? 0;
  if (!n) return "";
  const kinds = Object.entries(item.skipped ?? {})
    .filter(([, k]) => k > 0)
    .map(([kind, k]) => `${count(k)} ${kind}`);
  return `${plural(n, "entry", "entries")} skipped${kinds.length ? ` (${kinds.join(", ")})` : ""}`;
}

const dateTimes = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeStyle: "short" });

/** "Nov 29, 2026, 4:12 AM" from RFC 3339 (nanoseconds allowed). */
export function dateTime(iso) {
  if (!iso) return "";
  const ms = Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1"));
  return Number.isFinite(ms) ? dateTimes.format(new Date(ms)) : "";
}

/** A signed byte delta: "+1.2 KiB", "−300 B", "0 B". */
export function sizeDelta(bytes) {
  if (!bytes) return "0 B";
  return `${bytes > 0 ? "+" : "\u2212"}${size(Math.abs(bytes))}`;
}

const stamps = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", hour: "numeric", minute: "2-digit", second: "2-digit" });
const stampsWithYear = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeStyle: "medium" });

/** A snapshot's moment, to the second (several may be taken in one minute): "Nov 29, 4:10:23 AM". */
export function stamp(iso, now = new Date()) {
  const ms = Date.parse(String(iso ?? "").replace(/(\.\d{3})\d+/, "$1"));
  if (!Number.isFinite(ms)) return "";
  const when = new Date(ms);
  return (when.getFullYear() === now.getFullYear() ? stamps : stampsWithYear).format(when);
}
