// What the agent tells every client (GET /api/v1/config): labels, step count,
// terminal states and the reconnect schedule. The defaults below are the only
// copy in the UI, used while an older agent does not serve a field.

export const DEFAULT_CONFIG = Object.freeze({
  pollIntervalMs: 1000,
  heartbeatSeconds: 15,
  retryMs: 1000,
  backoff: Object.freeze({ delaysMs: Object.freeze([1000, 2000, 4000, 8000, 15000, 30000]), jitter: 0.2 }),
  totalSteps: 6,
  steps: Object.freeze([
    { stepNumber: 1, step: "waiting", label: "Waiting for scan", unit: null },
    { stepNumber: 2, step: "browsing", label: "Reading folder status", unit: null },
    { stepNumber: 3, step: "browsing", label: "Browsing files", unit: "files" },
    { stepNumber: 4, step: "compressing", label: "Compressing manifest", unit: "files" },
    { stepNumber: 5, step: "uploading", label: "Uploading", unit: "bytes" },
    { stepNumber: 6, step: "completed", label: "Completed", unit: null },
  ]),
  terminalStates: Object.freeze(["completed", "failed", "cancelled"]),
  stateLabels: Object.freeze({
    idle: "Idle",
    queued: "Queued",
    running: "Running",
    completed: "Completed",
    completedWithWarnings: "Completed with warnings",
    failed: "Failed",
    cancelled: "Cancelled",
  }),
});

/** The agent's answer over the defaults, field by field (nested objects too). */
export function mergeConfig(answer) {
  const config = { ...DEFAULT_CONFIG, ...(answer ?? {}) };
  config.backoff = { ...DEFAULT_CONFIG.backoff, ...(answer?.backoff ?? {}) };
  config.stateLabels = { ...DEFAULT_CONFIG.stateLabels, ...(answer?.stateLabels ?? {}) };
  if (!Array.isArray(config.steps) || !config.steps.length) config.steps = DEFAULT_CONFIG.steps;
  if (!answer?.totalSteps) config.totalSteps = config.steps.length;
  return config;
}

let current = mergeConfig(null);

/** The configuration in force (the defaults until setConfig is called). */
export const config = () => current;

export function setConfig(answer) {
  current = mergeConfig(answer);
  return current;
}

export const isTerminalStep = (step) => current.terminalStates.includes(step);

/** The label of a step number ("Browsing files"); "Starting" before step 1. */
export function stepName(stepNumber) {
  return current.steps.find((s) => s.stepNumber === stepNumber)?.label ?? "Starting";
}

/** The unit of a step's work ("files", "bytes" or null). */
export const stepUnit = (stepNumber) => current.steps.find((s) => s.stepNumber === stepNumber)?.unit ?? null;

export const stateLabel = (state) => current.stateLabels[state] ?? state;
