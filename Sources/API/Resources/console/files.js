// A restore point's guest files, browsed folder by folder or searched by name, from the
// server's guest file index (no chunk is read to browse). Files and folders are ticked to be
// restored; the wizard sends the selection as a guest-files restore.
import { api, h, bytes, when, table, keysetPages } from "./dom.js";

/** The browser for one point: its element, and what is selected (paths and their volume). */
export function guestFileBrowser(point) {
  const selected = new Set();
  let volume = null;
  let place = { path: "/" };
  const status = h("p", { class: "muted", id: "files-selected", role: "status" }, "Nothing selected.");
  const crumbs = h("nav", { class: "actions", "aria-label": "Folder" });
  const holder = h("div", { id: "files-list" });
  const search = h("input", { id: "files-search", name: "search", placeholder: "part of a file's name", autocomplete: "off" });
  const volumes = h("select", { id: "files-volume", name: "volume", "aria-label": "File system" });
  const showSelection = () => status.replaceChildren(selected.size
    ? `${selected.size} selected: ${[...selected].slice(0, 5).join(", ")}${selected.size > 5 ? ", …" : ""}` : "Nothing selected.");

  const pages = keysetPages("after", async (after) => {
    const query = new URLSearchParams({ limit: "100" });
    if (volume) { query.set("disk", volume.disk); query.set("partition", String(volume.partition)); }
    if (place.search) query.set("search", place.search); else query.set("path", place.path);
    if (after) query.set("after", after);
    const page = await api(`/restore-points/${encodeURIComponent(point.restore_point_id)}/files?${query}`);
    if (!volume && page.volumes.length) fillVolumes(page.volumes, page.volume);
    if (!page.volumes.length) {
      holder.replaceChildren(h("p", { class: "muted" },
        "This restore point's files are not indexed: its job does not index guest files, or no ext file system was found."));
      return page;
    }
    showCrumbs();
    holder.replaceChildren(table(["", "Name", "Size", { text: "Modified", class: "hide-narrow" }],
      page.items.map((entry) => h("tr", {},
        h("td", {}, h("input", { type: "checkbox", "aria-label": `Select ${entry.path}`, checked: selected.has(entry.path),
          onchange: (event) => { if (event.target.checked) selected.add(entry.path); else selected.delete(entry.path); showSelection(); } })),
        h("td", {}, entry.kind === "directory"
          ? h("button", { type: "button", class: "link", "aria-label": `Open ${entry.path}`, onclick: () => open({ path: entry.path }) }, `${place.search ? entry.path : entry.name}/`)
          : place.search ? entry.path : entry.name,
        entry.link_target ? h("span", { class: "muted" }, ` → ${entry.link_target}`) : null),
        h("td", {}, entry.kind === "file" ? bytes(entry.size_bytes) : entry.kind),
        h("td", { class: "hide-narrow" }, when(entry.modified_at))))));
    return page;
  });

  function fillVolumes(list, shown) {
    volumes.replaceChildren(...list.map((v, index) => h("option", { value: String(index) },
      `${v.disk}, partition ${v.partition} (${v.file_system ?? "?"}, ${v.files ?? "?"} files)`)));
    const index = Math.max(0, list.findIndex((v) => v.disk === shown?.disk && v.partition === shown?.partition));
    volumes.value = String(index);
    volume = list[index];
    volumes.onchange = () => { volume = list[Number(volumes.value)]; selected.clear(); showSelection(); open({ path: "/" }); };
  }

  function showCrumbs() {
    if (place.search) {
      crumbs.replaceChildren(h("span", {}, `Names containing “${place.search}”`),
        h("button", { type: "button", class: "link", onclick: () => open({ path: "/" }) }, "back to /"));
      return;
    }
    const parts = place.path.split("/").filter(Boolean);
    crumbs.replaceChildren(h("button", { type: "button", class: "link", "aria-label": "Open /", onclick: () => open({ path: "/" }) }, "/"),
      ...parts.map((part, index) => {
        const path = `/${parts.slice(0, index + 1).join("/")}`;
        return h("button", { type: "button", class: "link", "aria-label": `Open ${path}`, onclick: () => open({ path }) }, `${part}/`);
      }));
  }

  function open(where) {
    place = where;
    pages.restart().catch((error) => holder.replaceChildren(h("p", { class: "error", role: "alert" }, error.message)));
  }

  const searchForm = h("div", { class: "actions" }, h("label", {}, "Find by name", search),
    h("button", { type: "button", id: "files-find", onclick: () => { if (search.value.trim()) open({ search: search.value.trim() }); } }, "Find"));
  const element = h("div", { class: "stack wide", id: "guest-files" }, h("label", {}, "File system", volumes), searchForm, crumbs, holder,
    pages.element, status);
  return {
    element,
    start: () => open({ path: "/" }),
    selection: () => ({ paths: [...selected], disk: volume?.disk, partition: volume?.partition }),
  };
}
