// The file tree of a project's latest completed snapshot, one level at a time.
// Folders are disclosure buttons (aria-expanded) in nested lists: every control is
// reachable with Tab, with no arrow-key model to learn. An image sequence is one row
// (name with #### for the frame number, range, missing frames) that expands to its
// frames without another request: the agent sends them with the sequence.

import { filesTree } from "./api.js";
import { el } from "./dom.js";
import { count, dateTime, size } from "./format.js";

const isSequence = (node) => node.type === "sequence";
const isFolder = (node) => Boolean(node.isDirectory);
const files = (n) => `${count(n)} ${n === 1 ? "file" : "files"}`;
const frames = (n) => `${count(n)} ${n === 1 ? "frame" : "frames"}`;

export class FileTree {
  #root;
  #projectId = null;
  #snapshotId = null;
  #filter = "";

  /** @param {HTMLElement} root a <ul> */
  constructor(root) {
    this.#root = root;
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
    this.#root.replaceChildren(...this.#items(answer.tree, 0));
    if (this.#filter) this.#applyFilter();
    return answer;
  }

  clear() {
    this.#projectId = null;
    this.#root.replaceChildren();
  }

  #items(nodes, level) {
    if (!nodes.length) {
      return [el("li", { class: "tree-empty", text: "This folder is empty." })];
    }
    // Folders first, then files, each by name (the manifest keeps them mixed by name).
    const sorted = [...nodes].sort(
      (a, b) => Number(isFolder(b)) - Number(isFolder(a)) || (a.name < b.name ? -1 : 1),
    );
    return sorted.map((node) => this.#item(node, level));
  }

  #item(node, level) {
    const folder = isFolder(node);
    const sequence = isSequence(node);
    const expandable = folder || sequence;
    const kind = folder ? "folder" : sequence ? "sequence" : node.isSymlink ? "symlink" : "file";
    const indent = { style: `--level: ${level}` };
    const name = el(
      "span",
      { class: "tree-name" },
      el("span", { class: `tree-icon icon-${folder ? "folder" : sequence ? "sequence" : "file"}`, "aria-hidden": "true" }),
      el("span", { class: "tree-label", text: node.name, title: node.path }),
    );
    if (sequence) {
      name.append(el("span", { class: "tree-frames", dataset: { part: "frames" }, text: node.frames }));
      if (node.missing) {
        name.append(el("span", { class: "tree-missing", dataset: { part: "missing" }, text: `missing ${node.missing}` }));
      }
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
    if (expandable) {
      item.dataset.loaded = "false";
      item.append(el("ul", { hidden: true }));
    }
    if (sequence) this.#frames.set(item, node.children ?? []);
    return item;
  }

  /** Show only rows whose name contains ``text`` (and the folders that lead to them). */
  filter(text) {
    this.#filter = text.trim().toLowerCase();
    this.#applyFilter();
  }

  #applyFilter() {
    const needle = this.#filter;
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
      if (this.#filter) this.#applyFilter();
    } catch (err) {
      group.replaceChildren(el("li", { class: "tree-empty tree-error", text: `Cannot load this folder: ${err.message}` }));
      item.dataset.loaded = "false";
    }
  }
}
