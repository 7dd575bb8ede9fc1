// The file tree of a project's latest completed snapshot, one level at a time.
// Folders are disclosure buttons (aria-expanded) in nested lists: every control is
// reachable with Tab, with no arrow-key model to learn.

import { filesTree } from "./api.js";
import { el } from "./dom.js";
import { count, dateTime, size } from "./format.js";

export class FileTree {
  #root;
  #projectId = null;

  /** @param {HTMLElement} root a <ul> */
  constructor(root) {
    this.#root = root;
    root.addEventListener("click", (e) => {
      const toggle = e.target.closest("button[data-toggle]");
      if (toggle) this.#toggle(toggle.closest("li[data-path]"));
    });
  }

  /** Show the top level; resolves to the answer (its snapshot), or throws the ApiError. */
  async load(projectId) {
    this.#projectId = projectId;
    const answer = await filesTree(projectId, "");
    if (this.#projectId !== projectId) return answer;
    this.#root.replaceChildren(...this.#items(answer.tree, 0));
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
      (a, b) => Number(b.isDirectory) - Number(a.isDirectory) || (a.name < b.name ? -1 : 1),
    );
    return sorted.map((node) => this.#item(node, level));
  }

  #item(node, level) {
    const folder = Boolean(node.isDirectory);
    const indent = { style: `--level: ${level}` };
    const name = el(
      "span",
      { class: "tree-name" },
      el("span", { class: `tree-icon ${folder ? "icon-folder" : "icon-file"}`, "aria-hidden": "true" }),
      el("span", { class: "tree-label", text: node.name, title: node.path }),
    );
    const label = folder
      ? el(
          "button",
          { type: "button", class: "tree-toggle", dataset: { toggle: "" }, "aria-expanded": "false", "aria-label": `${node.name}, folder` },
          el("span", { class: "chevron", "aria-hidden": "true" }),
          name,
        )
      : el("span", { class: "tree-toggle tree-leaf" }, name);
    const sizeCell = folder
      ? el("span", { class: "tree-size", dataset: { part: "size" } }, size(node.totalBytes ?? 0),
          el("span", { class: "tree-files", text: ` · ${count(node.fileCount ?? 0)} ${node.fileCount === 1 ? "file" : "files"}` }))
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
      {
        dataset: { path: node.path, kind: folder ? "folder" : node.isSymlink ? "symlink" : "file", level: String(level) },
      },
      rowEl,
    );
    if (folder) {
      item.dataset.loaded = "false";
      item.append(el("ul", { hidden: true }));
    }
    return item;
  }

  async #toggle(item) {
    const group = item.querySelector(":scope > ul");
    const button = item.querySelector(":scope > .tree-row > button");
    const open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!open));
    group.hidden = open;
    if (open) return;
    if (item.dataset.loaded !== "false") return;
    item.dataset.loaded = "loading";
    const level = Number(item.dataset.level) + 1;
    group.replaceChildren(el("li", { class: "tree-empty", text: "Loading..." }));
    try {
      const answer = await filesTree(this.#projectId, item.dataset.path);
      group.replaceChildren(...this.#items(answer.tree, level));
      item.dataset.loaded = "true";
    } catch (err) {
      group.replaceChildren(el("li", { class: "tree-empty tree-error", text: `Cannot load this folder: ${err.message}` }));
      item.dataset.loaded = "false";
    }
  }
}
