// The agent's HTTP API, as used by the page. Errors carry the API's answer.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `the agent answered ${status}`);
    this.status = status;
    this.field = body?.field ?? null;
    this.body = body ?? {};
  }
}

async function request(method, path, body, signal = undefined) {
  let response;
  try {
    response = await fetch(path, {
      method,
      cache: "no-store",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err?.name === "AbortError") throw err; // the page gave up on it: not the agent's fault
    throw new ApiError(0, { detail: "The agent does not answer. Is it running?" });
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const getConfig = () => request("GET", "/api/v1/config");
export const health = () => request("GET", "/api/v1/health");
export const listAgents = () => request("GET", "/api/v1/agents");
export const listProjects = () => request("GET", "/api/v1/projects").then((d) => d.projects);
export const createProjectWithSnapshot = (name, localPath) =>
  request("POST", "/api/v1/projects/with-snapshot", { name, localPath });
export const deleteProject = (id) => request("DELETE", `/api/v1/projects/${encodeURIComponent(id)}`);
export const startSnapshot = (id) =>
  request("POST", `/api/v1/projects/${encodeURIComponent(id)}/snapshot`);
export const cancelSnapshot = (id) =>
  request("DELETE", `/api/v1/projects/${encodeURIComponent(id)}/snapshot`);
export const pollProgress = (id) =>
  request("GET", `/api/v1/projects/${encodeURIComponent(id)}/progress`);

const project = (id) => `/api/v1/projects/${encodeURIComponent(id)}`;
export const getProject = (id) => request("GET", project(id));
export const listSnapshots = (id) =>
  request("GET", `${project(id)}/snapshots`).then((d) => d.snapshots);
export const filesTree = (id, path = "", snapshotId = null) =>
  request(
    "GET",
    `${project(id)}/files-tree?path=${encodeURIComponent(path)}&depth=1` +
      (snapshotId ? `&snapshotId=${encodeURIComponent(snapshotId)}` : ""),
  );
/** ``signal``: abort it when the answer is no longer wanted; the agent then stops reading. */
export const searchFiles = (id, q, snapshotId = null, limit = 500, signal = undefined) =>
  request(
    "GET",
    `${project(id)}/files-search?q=${encodeURIComponent(q)}&limit=${limit}` +
      (snapshotId ? `&snapshotId=${encodeURIComponent(snapshotId)}` : ""),
    undefined,
    signal,
  );
export const diffSnapshots = (id, a, b, offset = 0, limit = 200) =>
  request(
    "GET",
    `${project(id)}/snapshots/${encodeURIComponent(a)}/diff/${encodeURIComponent(b)}?offset=${offset}&limit=${limit}`,
  );
export const batchSnapshot = (projectIds) => request("POST", "/api/v1/snapshots/batch", { projectIds });
