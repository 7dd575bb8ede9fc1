// The file tree of a project's latest completed snapshot, one level at a time.
// Folders are disclosure buttons (aria-expanded) in nested lists: every control is
// reachable with Tab, with no arrow-key model to learn. An image sequence is one row
// (name with #### for the frame number, range, missing frames) that expands to its
// frames without another request: the agent sends them with the sequence.
//
// The filter searches the whole snapshot, not only the rows loaded so far: while
// the user types, the loaded rows are filtered at once, and after a pause the agent
// answers the matches from the whole manifest as a pruned tree, shown expanded in
// place of the lazy one (which comes back, as it was, when the filter is cleared).

import { filesTree, searchFiles } from "./api.js";
import { el } from "./dom.js";
import { count, dateTime, size } from "./format.js";

const isSequence = (node) => node.type === "sequence";
const isFolder = (node) => Boolean(node.isDirectory);
const files = (n) => `${count(n)} ${n === 1 ? "file" : "files"}`;
const frames = (n) => `${count(n)} ${n === 1 ? "frame" : "frames"}`;
const matches = (n) => `${count(n)} ${n === 1 ? "match" : "matches"}`;
export const SEARCH_DELAY_MS = 250;

/** The name as text nodes with the first occurrence of ``needle`` in a <mark>. */
function highlighted(name, needle) {
  const lower = name.toLowerCase();
  const at = needle && lower.length === name.length ? lower.indexOf(needle) : -1;
  if (at < 0) return [el("mark", { text: name })];
  return [name.slice(0, at), el("mark", { text: name.slice(at, at + needle.length) }), name.slice(at + needle.length)]
    .filter((part) => part !== "");
}

export class FileTree {
  #root;
  #projectId = null;
  #snapshotId = null;
  #filter = "";
  #status;
  #timer = null;
  #searchId = 0; // rises with every keystroke: an older answer is dropped
  #inFlight = null; // the AbortController of the search request on its way
  #lazy = null; // the lazily loaded rows, kept while search results are shown

  /**
   * @param {HTMLElement} root a <ul>
   * @param {{status?: HTMLElement}} parts an aria-live element for the search's count
   */
  constructor(root, { status } = {}) {
    this.#root = root;
    this.#status = status ?? null;
    root.addEventListener("click", (e) => {
      const toggle = e.target.closest("button[data-toggle]");
      if (toggle) this.#toggle(toggle.closest("li[data-path]"));
    });
  }

  /**
   * Show the top level of a snapshot (default: the latest completed one); resolves to
   * the answer (its snapshot), or throws the ApiError.
   */
  async load(projectId, snapshotId = null) {
    this.#projectId = projectId;
    this.#snapshotId = snapshotId;
    const answer = await filesTree(projectId, "", snapshotId);
    if (this.#projectId !== projectId || this.#snapshotId !== snapshotId) return answer;
    const items = this.#items(answer.tree, 0);
    if (this.#lazy) {
      // Showing search results: keep the new rows for later and search this snapshot.
      this.#lazy = items;
      this.#schedule(0);
    } else {
      this.#root.replaceChildren(...items);
      if (this.#filter) this.#schedule(0);
    }
    return answer;
  }

  clear() {
    this.#projectId = null;
    this.#searchId += 1;
    clearTimeout(this.#timer);
    this.#lazy = null;
    this.#say("");
    this.#root.replaceChildren();
  }

  #items(nodes, level, needle = null) {
    if (!nodes.length) {
      return [el("li", { class: "tree-empty", text: "This folder is empty." })];
    }
    // Folders first, then files, each by name (the manifest keeps them mixed by name).
    const sorted = [...nodes].sort(
      (a, b) => Number(isFolder(b)) - Number(isFolder(a)) || (a.name < b.name ? -1 : 1),
    );
    return sorted.map((node) => this.#item(node, level, needle));
  }

  #item(node, level, needle = null) {
    const folder = isFolder(node);
    const sequence = isSequence(node);
    const expandable = folder || sequence;
    const kind = folder ? "folder" : sequence ? "sequence" : node.isSymlink ? "symlink" : "file";
    const indent = { style: `--level: ${level}` };
    const name = el(
      "span",
      { class: "tree-name" },
      el("span", { class: `tree-icon icon-${folder ? "folder" : sequence ? "sequence" : "file"}`, "aria-hidden": "true" }),
      needle !== null && node.match
        ? el("span", { class: "tree-label", title: node.path }, ...highlighted(node.name, needle))
        : el("span", { class: "tree-label", text: node.name, title: node.path }),
    );
    if (sequence) {
      const chips = el("span", { class: "tree-chips" },
        el("span", { class: "tree-frames", dataset: { part: "frames" }, text: node.frames }));
      if (node.missing) {
        chips.append(el("span", { class: "tree-missing", dataset: { part: "missing" }, text: `missing ${node.missing}` }));
      }
      name.append(chips);
    }
    const what = folder ? "folder" : `image sequence, ${frames(node.fileCount)} ${node.frames}`;
    const label = expandable
      ? el(
          "button",
          { type: "button", class: "tree-toggle", dataset: { toggle: "" }, "aria-expanded": "false", "aria-label": `${node.name}, ${what}` },
          el("span", { class: "chevron", "aria-hidden": "true" }),
          name,
        )
      : el("span", { class: "tree-toggle tree-leaf" }, name);
    const sizeCell = expandable
      ? el("span", { class: "tree-size", dataset: { part: "size" } }, size(node.totalBytes ?? 0),
          el("span", { class: "tree-files", text: ` · ${sequence ? frames(node.fileCount ?? 0) : files(node.fileCount ?? 0)}` }))
      : el("span", { class: "tree-size", dataset: { part: "size" }, text: size(node.size ?? 0) });
    const rowEl = el(
      "div",
      { class: "tree-row", ...indent },
      label,
      sizeCell,
      el("span", { class: "tree-time", dataset: { part: "mtime" }, text: dateTime(node.modTime) }),
    );
    const item = el(
      "li",
      { dataset: { path: node.path, name: node.name.toLowerCase(), kind, level: String(level) } },
      rowEl,
    );
    if (needle !== null && node.match) item.dataset.match = "";
    if (folder && needle !== null && node.children?.length) {
      // A search answer: the folder leads to matches, shown open (only those).
      item.dataset.loaded = "true";
      label.setAttribute("aria-expanded", "true");
      item.append(el("ul", {}, ...this.#items(node.children, level + 1, needle)));
    } else if (expandable) {
      item.dataset.loaded = "false";
      item.append(el("ul", { hidden: true }));
    }
    if (sequence) this.#frames.set(item, node.children ?? []);
    return item;
  }

  /**
   * Show only what contains ``text``: the loaded rows at once, then (after a pause
   * in typing) every match in the snapshot, from the agent. "" brings the tree back.
   */
  filter(text) {
    this.#filter = text.trim();
    const needle = this.#filter.toLowerCase();
    // A "/" searches paths: the loaded names cannot say, so wait for the agent.
    if (!needle.includes("/")) this.#applyFilter(needle);
    this.#schedule(this.#filter ? SEARCH_DELAY_MS : 0);
  }

  #schedule(delay) {
    clearTimeout(this.#timer);
    // The answer on its way is for older text: drop the request, so the agent
    // stops reading a manifest for nobody (seconds on a million entries).
    this.#inFlight?.abort();
    this.#inFlight = null;
    const id = ++this.#searchId;
    if (!this.#filter) {
      this.#endSearch();
      return;
    }
    this.#timer = setTimeout(() => this.#search(id), delay);
  }

  async #search(id) {
    const query = this.#filter;
    const projectId = this.#projectId;
    if (!projectId) return;
    this.#root.setAttribute("aria-busy", "true");
    const asked = (this.#inFlight = new AbortController());
    let answer;
    try {
      answer = await searchFiles(projectId, query, this.#snapshotId, 500, asked.signal);
    } catch (err) {
      if (this.#inFlight === asked) this.#inFlight = null;
      if (id !== this.#searchId || err?.name === "AbortError") return;
      this.#root.removeAttribute("aria-busy");
      this.#say(`Cannot search the snapshot: ${err.message}`, "error");
      return;
    }
    if (this.#inFlight === asked) this.#inFlight = null;
    if (id !== this.#searchId || projectId !== this.#projectId) return; // typed on meanwhile
    this.#root.removeAttribute("aria-busy");
    if (!this.#lazy) this.#lazy = [...this.#root.children];
    const needle = query.toLowerCase();
    this.#root.replaceChildren(
      ...(answer.total === 0
        ? [el("li", { class: "tree-empty", dataset: { part: "no-match" }, text: `No file or folder matches '${query}'` })]
        : this.#items(answer.tree, 0, needle)),
    );
    this.#root.dataset.filtered = "true";
    this.#root.dataset.search = query;
    if (answer.total === 0) this.#say(`No file or folder matches '${query}'`, "none");
    else if (answer.truncated) {
      this.#say(`first ${count(answer.matches)} of ${matches(answer.total)} — refine the search`, "truncated");
    } else this.#say(matches(answer.total), "all");
  }

  #endSearch() {
    this.#root.removeAttribute("aria-busy");
    delete this.#root.dataset.search;
    if (this.#lazy) {
      this.#root.replaceChildren(...this.#lazy);
      this.#lazy = null;
    }
    this.#applyFilter("");
    this.#say("");
  }

  #say(text, state = "") {
    if (!this.#status) return;
    this.#status.textContent = text;
    this.#status.dataset.state = state;
  }

  #applyFilter(needle) {
    let shown = 0;
    const visit = (item) => {
      const children = [...(item.querySelector(":scope > ul")?.children ?? [])].filter((c) => c.dataset.path);
      let inside = false;
      for (const child of children) inside = visit(child) || inside;
      const match = !needle || item.dataset.name.includes(needle) || inside;
      item.hidden = !match;
      if (match) shown += 1;
      return match;
    };
    for (const item of this.#root.children) if (item.dataset.path) visit(item);
    this.#root.dataset.filtered = needle ? "true" : "false";
    return shown;
  }

  #frames = new WeakMap();

  async #toggle(item) {
    const group = item.querySelector(":scope > ul");
    const button = item.querySelector(":scope > .tree-row > button");
    const open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!open));
    group.hidden = open;
    if (open) return;
    if (item.dataset.loaded !== "false") return;
    const level = Number(item.dataset.level) + 1;
    if (item.dataset.kind === "sequence") {
      group.replaceChildren(...this.#items(this.#frames.get(item) ?? [], level));
      item.dataset.loaded = "true";
      return;
    }
    item.dataset.loaded = "loading";
    group.replaceChildren(el("li", { class: "tree-empty", text: "Loading..." }));
    try {
      const answer = await filesTree(this.#projectId, item.dataset.path, this.#snapshotId);
      group.replaceChildren(...this.#items(answer.tree, level));
      item.dataset.loaded = "true";
      if (this.#filter && !this.#root.dataset.search) this.#applyFilter(this.#filter.toLowerCase());
    } catch (err) {
      group.replaceChildren(el("li", { class: "tree-empty tree-error", text: `Cannot load this folder: ${err.message}` }));
      item.dataset.loaded = "false";
    }
  }
}
