// The projects page: wires the API, the progress hub, the list, the form and the modal.

import * as api from "./api.js";
import { setConfig } from "./config.js";
import { plural } from "./format.js";
import { ProgressHub, isTerminal } from "./hub.js";
import { ProgressModal } from "./modal.js";
import { askForNotifications, notificationsSupported, notify, toast } from "./notify.js";
import { ProjectPage } from "./project-page.js";
import { ProjectsView } from "./projects.js";
import { connectionText } from "./status.js";
import { TransfersTray } from "./tray.js";
import { TeamView } from "./team.js";

const $ = (id) => document.getElementById(id);

async function main() {
  const toasts = $("toasts");
  const say = (title, body = "", kind = "info") => toast(toasts, { title, body, kind });

  let config = setConfig(null);
  try {
    config = setConfig(await api.getConfig());
  } catch {
    say("The agent does not answer", "Progress may not update until it is back.", "error");
  }

  // This agent's name: events of other agents (team bus) go to the Team card.
  const me = (await api.listAgents().catch(() => null))?.agents?.find((a) => a.self)?.name ?? null;
  const team = new TeamView($("team-card"), $("team-list"));

  const hub = new ProgressHub(config);
  const modal = new ProgressModal($("progress-modal"), { hub, onMessage: (t) => say(t, "", "error") });
  const view = new ProjectsView(
    { list: $("project-list"), empty: $("projects-empty"), count: $("project-count") },
    { hub, onAction: (action, project) => actions[action]?.(project) },
  );

  const tray = new TransfersTray($("transfers"), {
    nameOf: (projectId) => view.get(projectId)?.name ?? projectId,
    onView: (projectId) => {
      const project = view.get(projectId);
      if (project) actions.view(project);
    },
  });
  modal.onRetry = () => refresh();

  const projectPage = new ProjectPage($("view-project"), {
    hub,
    onSnapshot: (project) => actions.snapshot(project),
    onView: (project) => actions.view(project),
  });

  // -- routing: #/ is the list, #/projects/{id} a project's page --------------------
  function route() {
    const match = /^#\/projects\/([^/]+)$/.exec(location.hash);
    const projectId = match ? decodeURIComponent(match[1]) : null;
    $("view-projects").hidden = projectId !== null;
    $("view-project").hidden = projectId === null;
    if (projectId === null) {
      if (projectPage.projectId !== null) refresh(); // back from a project page
      projectPage.close();
      document.title = "Projects · vidsync";
      return;
    }
    if (projectPage.projectId !== projectId) {
      window.scrollTo(0, 0);
      projectPage.open(projectId);
    }
  }
  window.addEventListener("hashchange", route);

  // -- batch: snapshot the selected projects -------------------------------------------
  const batchButton = $("batch-snapshot");
  const selectAll = $("select-all");
  $("project-list").addEventListener("selectionchange", () => {
    const chosen = view.selected.length;
    $("batch-bar").hidden = view.size === 0;
    batchButton.disabled = chosen === 0;
    batchButton.textContent = chosen ? `Snapshot selected (${chosen})` : "Snapshot selected";
    selectAll.checked = chosen > 0 && chosen === view.size;
    selectAll.indeterminate = chosen > 0 && chosen < view.size;
  });
  selectAll.addEventListener("change", () => {
    view.select(selectAll.checked ? view.ids : []);
  });
  batchButton.addEventListener("click", async () => {
    const ids = view.selected;
    if (!ids.length) return;
    batchButton.disabled = true;
    try {
      const answer = await api.batchSnapshot(ids);
      for (const error of answer.errors) {
        say(`Cannot snapshot ${view.get(error.projectId)?.name ?? error.projectId}`, error.detail, "error");
      }
      const begun = answer.started.length + answer.queued.length;
      if (begun) {
        const queued = answer.queued.length ? `, ${answer.queued.length} waiting` : "";
        say(`${begun} snapshot${begun === 1 ? "" : "s"} started`, `At most ${answer.limit} run at once${queued}.`);
      }
      view.select([]);
    } catch (err) {
      say("Cannot start the snapshots", err.message, "error");
    } finally {
      batchButton.disabled = view.selected.length === 0;
    }
  });

  let refreshing = null;
  let again = null;
  async function refresh() {
    // One reload at a time; all requests during a reload share the next one.
    if (refreshing) return (again ??= refreshing.then(() => { again = null; return refresh(); }));
    refreshing = (async () => {
      try {
        const projects = await api.listProjects();
        for (const p of projects) hub.accept(p.progress);
        view.setProjects(projects);
        tray.rename();
        $("list-error").hidden = true;
      } catch (err) {
        $("list-error").textContent = `Cannot load projects: ${err.message}`;
        $("list-error").hidden = false;
      }
    })();
    try {
      await refreshing;
    } finally {
      refreshing = null;
    }
  }

  const actions = {
    async snapshot(project) {
      try {
        const started = await api.startSnapshot(project.projectId);
        modal.open({ projectId: project.projectId, projectName: project.name, snapshotId: started.snapshotId });
        view.update({ projectId: project.projectId });
      } catch (err) {
        say(`Cannot start a snapshot of ${project.name}`, err.message, "error");
      }
    },
    view(project) {
      const live = hub.latest(project.projectId);
      if (live) modal.open({ projectId: project.projectId, projectName: project.name, snapshotId: live.snapshotId });
    },
    retry(project) {
      return actions.snapshot(project);
    },
    delete(project) {
      confirmDelete(project);
    },
  };

  // -- delete with confirmation -------------------------------------------------
  const confirmDialog = $("confirm-dialog");
  let pendingDelete = null;
  function confirmDelete(project) {
    pendingDelete = project;
    $("confirm-name").textContent = project.name;
    $("confirm-path").textContent = project.localPath;
    const latest = hub.latest(project.projectId);
    const running = latest ? !isTerminal(latest) && latest.step !== "idle" : Boolean(project.runningSnapshotId);
    $("confirm-running").hidden = !running;
    $("confirm-error").hidden = true;
    confirmDialog.showModal();
    $("confirm-cancel").focus();
  }
  $("confirm-cancel").addEventListener("click", () => confirmDialog.close());
  $("confirm-ok").addEventListener("click", async () => {
    const project = pendingDelete;
    if (!project) return;
    $("confirm-ok").disabled = true;
    try {
      await api.deleteProject(project.projectId);
      hub.forget(project.projectId);
      confirmDialog.close();
      say(`Deleted ${project.name}`, "The folder itself was not touched.", "info");
      await refresh();
    } catch (err) {
      $("confirm-error").textContent = err.message;
      $("confirm-error").hidden = false;
    } finally {
      $("confirm-ok").disabled = false;
    }
  });
  confirmDialog.addEventListener("close", () => {
    pendingDelete = null;
  });

  // -- create project -------------------------------------------------------------
  const form = $("create-form");
  const fields = { name: $("field-name"), localPath: $("field-path") };
  function clearErrors() {
    for (const [key, input] of Object.entries(fields)) {
      input.removeAttribute("aria-invalid");
      $(`error-${key}`).textContent = "";
    }
    $("form-error").hidden = true;
  }
  for (const input of Object.values(fields)) input.addEventListener("input", clearErrors);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    const submit = $("create-submit");
    submit.disabled = true;
    try {
      const created = await api.createProjectWithSnapshot(fields.name.value.trim(), fields.localPath.value);
      form.reset();
      modal.open({ projectId: created.projectId, projectName: created.name, snapshotId: created.snapshotId });
      await refresh();
    } catch (err) {
      const input = fields[err.field];
      if (input) {
        input.setAttribute("aria-invalid", "true");
        $(`error-${err.field}`).textContent = err.message;
        input.focus();
      } else {
        $("form-error").textContent = err.message;
        $("form-error").hidden = false;
      }
    } finally {
      submit.disabled = false;
    }
  });

  // -- live progress ------------------------------------------------------------
  // At most one list reload per 200 ms. Restarting the timer on every event
  // would postpone it for as long as events keep coming (every 0.1 s while a
  // snapshot runs), so a project created elsewhere would only show up at its end.
  let reload = null;
  const reloadSoon = () => {
    if (!reload) reload = setTimeout(() => { reload = null; refresh(); }, 200);
  };
  hub.addEventListener("progress", ({ detail: { event, live } }) => {
    if (event.agent && me && event.agent !== me) {
      team.accept(event);
      return;
    }
    tray.update(event);
    if (!view.has(event.projectId)) {
      reloadSoon(); // a project created elsewhere (CLI, another tab)
      return;
    }
    view.update(event);
    if (!isTerminal(event)) return;
    reloadSoon();
    if (!live || modal.shows(event.snapshotId)) return;
    const name = view.get(event.projectId)?.name ?? event.projectId;
    if (event.step === "completed") {
      const files = event.fileCount !== null ? `${plural(event.fileCount, "file")}, ${event.totalSize}` : "";
      say(`Snapshot of ${name} completed`, files, "success");
      notify(`Snapshot of ${name} completed`, files);
    } else if (event.step === "failed") {
      say(`Snapshot of ${name} failed`, event.error ?? "", "error");
      notify(`Snapshot of ${name} failed`, event.error ?? "");
    } else {
      say(`Snapshot of ${name} cancelled`, "", "info");
    }
  });

  const agentStatus = $("agent-status");
  let wasLost = false;
  hub.client.addEventListener("statechange", () => {
    // Back after a loss: the list carries every project's current state, so a
    // state the stream could not replay (the agent restarted, or its ring of
    // recent events moved on) still arrives; the hub drops what it has seen.
    if (hub.client.state === "connected" && wasLost) refresh();
    wasLost = hub.client.state !== "connected";
    const { text, kind } = connectionText(hub.client);
    agentStatus.dataset.conn = kind;
    agentStatus.querySelector("span:last-child").textContent = text;
  });

  // -- notifications ---------------------------------------------------------------
  const notifyButton = $("notify-button");
  function showNotifyButton() {
    notifyButton.hidden = !notificationsSupported() || Notification.permission !== "default";
  }
  notifyButton.addEventListener("click", async () => {
    const permission = await askForNotifications();
    showNotifyButton();
    if (permission === "granted") say("Notifications on", "You will be told when a snapshot ends.");
  });
  showNotifyButton();

  await refresh();
  route();
  hub.start();
  document.body.dataset.ready = "true";
}

main();
