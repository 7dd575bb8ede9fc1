// Numbers as people read them. Sizes use the agent's units (1024-based, "2.4 GB").

const numbers = new Intl.NumberFormat("en-US");

export const STEP_LABELS = Object.freeze({
  1: "Preparing",
  2: "Reading folder status",
  3: "Browsing files",
  4: "Compressing manifest",
  5: "Uploading",
  6: "Completed",
});

export function count(n) {
  return numbers.format(n);
}

export function size(bytes) {
  let value = bytes;
  for (const unit of ["B", "KB", "MB", "GB", "TB"]) {
    if (value < 1024 || unit === "TB") {
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
  if (event.step === "failed") return "Failed";
  if (event.step === "cancelled") return "Cancelled";
  return STEP_LABELS[event.stepNumber] ?? "Starting";
}

const dateTimes = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeStyle: "short" });

/** "Nov 29, 2026, 4:12 AM" from RFC 3339 (nanoseconds allowed). */
export function dateTime(iso) {
  if (!iso) return "";
  const ms = Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1"));
  return Number.isFinite(ms) ? dateTimes.format(new Date(ms)) : "";
}

/** A signed byte delta: "+1.2 KB", "−300 B", "0 B". */
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
