// Restore points by VM and job (paged and filtered by the server), a restore asked for from
// one of them (a disk into a file in the server's restore folder, or the whole VM to a
// managed server, or guest files found by browsing or by name) or its disks published over
// NBD, and a restore followed live to its end. Every restore is a session of its
// own on the server, audited under the user who asked.
import { api, h, bytes, when, result, table, say, can, keysetPages, followEvents } from "./dom.js";
import { guestFileBrowser } from "./files.js";

export async function restorePointsPage(target, { user }) {
  const vm = h("input", { id: "point-vm", name: "vm", placeholder: "web-01" });
  const job = h("input", { id: "point-job", name: "job", placeholder: "nightly" });
  const form = h("form", { class: "actions", role: "search" }, h("label", {}, "VM", vm), h("label", {}, "Job", job),
    h("button", { type: "submit" }, "Filter"));
  const holder = h("div");
  const wizard = h("div", { id: "restore-wizard" });
  const pages = keysetPages("before", async (before) => {
    const query = new URLSearchParams({ limit: "50", available: "true" });
    if (vm.value.trim()) query.set("vm", vm.value.trim());
    if (job.value.trim()) query.set("job", job.value.trim());
    if (before) query.set("before", before);
    const page = await api(`/restore-points?${query}`);
    holder.replaceChildren(table(["VM", "Job", "Created", "Disks", "Size", ""],
      page.items.map((point) => h("tr", { "data-point": point.restore_point_id },
        h("td", {}, point.vm_name ?? point.vm_id), h("td", {}, point.job_name ?? "–"), h("td", {}, when(point.created_at)),
        h("td", {}, (point.disks ?? []).join(", ")), h("td", {}, bytes(point.size_bytes)),
        h("td", {}, point.damaged ? h("span", { class: "error" }, "damaged")
          : can(user, "restores:run")
            ? h("button", { type: "button", "aria-label": `Restore ${point.vm_name} from ${when(point.created_at)}`,
              onclick: () => {
                wizard.replaceChildren(restoreForm(point));
                wizard.scrollIntoView({ block: "start" });
                wizard.querySelector("select").focus();
              } }, "Restore…")
            : "")))));
    return page;
  });
  target.append(h("h1", {}, "Restore points"), form, holder, pages.element, wizard);
  form.addEventListener("submit", (event) => { event.preventDefault(); pages.restart(); });
  await pages.restart();
}

/** The restore wizard for one point: what to restore, where to, and why. */
function restoreForm(point) {
  const kind = h("select", { id: "restore-kind", name: "kind" },
    h("option", { value: "disk-file" }, "One disk, into a file on the server"),
    h("option", { value: "vm" }, "The whole VM, to a managed server"),
    h("option", { value: "guest-files" }, "Files from the guest (browse or find by name)"),
    h("option", { value: "publish" }, "Publish its disks over NBD now (instant access)"));
  const disk = h("select", { id: "restore-disk", name: "disk" }, (point.disks ?? []).map((key) => h("option", { value: key }, key)));
  const file = h("input", { id: "restore-file", name: "file", value: `${point.vm_name ?? "vm"}-${(point.disks ?? [""])[0]}.img` });
  const server = h("input", { id: "restore-server", name: "server", placeholder: "the managed server's name" });
  const name = h("input", { id: "restore-name", name: "name", placeholder: `${point.vm_name ?? ""}-restored` });
  const reason = h("input", { id: "restore-reason", name: "reason", placeholder: "ticket 4711" });
  const message = h("p", { class: "error", role: "alert" });
  const diskFields = h("div", { class: "stack" }, h("label", {}, "Disk", disk), h("label", {}, "File name (in the server's restore folder)", file));
  const vmFields = h("div", { class: "stack", hidden: true }, h("label", {}, "Server", server), h("label", {}, "New VM name", name));
  const listen = h("input", { id: "publish-listen", name: "listen", value: "127.0.0.1:0" });
  const writable = h("input", { id: "publish-writable", name: "writable", type: "checkbox" });
  const publishFields = h("div", { class: "stack", hidden: true },
    h("label", {}, "Listen on (HOST:PORT; port 0 for any free one)", listen),
    h("label", { class: "inline" }, writable, " Writable (writes kept in an overlay, never in the repository)"));
  const browser = guestFileBrowser(point);
  const filesFolder = h("input", { id: "restore-files-folder", name: "files-folder", value: `${point.vm_name ?? "vm"}-files` });
  const fileFields = h("div", { class: "stack wide", hidden: true }, browser.element,
    h("label", {}, "Into the folder (new, in the server's restore folder)", filesFolder));
  let browsing = false;
  kind.addEventListener("change", () => {
    fileFields.hidden = kind.value !== "guest-files";
    form.classList.toggle("wide", !fileFields.hidden);
    if (!fileFields.hidden && !browsing) { browsing = true; browser.start(); }
    diskFields.hidden = kind.value !== "disk-file";
    vmFields.hidden = kind.value !== "vm";
    publishFields.hidden = kind.value !== "publish";
  });
  const form = h("form", { class: "stack", id: "restore-form", "aria-label": "Restore" },
    h("h2", {}, `Restore ${point.vm_name ?? point.vm_id} from ${when(point.created_at)}`),
    h("label", {}, "What", kind), diskFields, vmFields, fileFields, publishFields, h("label", {}, "Reason", reason),
    h("button", { type: "submit", class: "primary" }, "Restore"), message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    if (kind.value === "publish") {
      const body = { vm: point.vm_name ?? point.vm_id, point: point.restore_point_id, listen: listen.value.trim(), writable: writable.checked };
      if (reason.value.trim()) body.reason = reason.value.trim();
      try {
        const published = await api("/publishes", { method: "POST", body });
        say(`Serving at ${published.address}.`);
        location.hash = `#/publishes/${published.publish_id}`;
      } catch (error) {
        message.textContent = error.message;
      }
      return;
    }
    let destination;
    if (kind.value === "disk-file") {
      destination = { kind: "disk-file", disk: disk.value, file: file.value.trim() };
    } else if (kind.value === "guest-files") {
      const chosen = browser.selection();
      if (!chosen.paths.length) { message.textContent = "Tick the files or folders to restore first."; return; }
      destination = { kind: "guest-files", paths: chosen.paths, disk: chosen.disk, folder: filesFolder.value.trim(),
        ...(chosen.partition ? { partition: chosen.partition } : {}) };
    } else {
      destination = { kind: "vm", server: server.value.trim(), ...(name.value.trim() ? { name: name.value.trim() } : {}) };
    }
    const body = { vms: [point.vm_name ?? point.vm_id], point: point.restore_point_id, destination };
    if (reason.value.trim()) body.reason = reason.value.trim();
    try {
      const asked = await api("/restores", { method: "POST", body });
      say("Restore requested.");
      location.hash = `#/restores/${asked.restore_id}`;
    } catch (error) {
      message.textContent = error.message;
    }
  });
  return form;
}

/** One restore, live: its events as they commit, until RestoreFinished. */
export async function restorePage(target, { parameters: [id], onLeave }) {
  // Just asked for, the restore may not be in the server's views yet: its events say the rest.
  const shown = await api(`/restores/${id}`).catch((error) => {
    if (error.status === 404) return { restore_id: id, state: "running" };
    throw error;
  });
  const state = h("p", { id: "restore-state" });
  const log = h("ol", { class: "log", id: "restore-log", "aria-label": "Events", tabindex: "0" });
  target.append(h("h1", {}, `Restore ${(shown.vm_names ?? []).join(", ")}`), state,
    table(["Requested", "By", "What", "Reason"], [h("tr", {},
      h("td", {}, when(shown.requested_at)), h("td", {}, shown.requested_by ?? "–"), h("td", {}, shown.what ?? "–"),
      h("td", {}, shown.reason_given ?? "–"))]),
    h("h2", {}, "Events"), log);
  const show = (value) => state.replaceChildren("State: ", result(value));
  show(shown.result ?? shown.state);
  followEvents(`/restores/${id}/events`, restoreEvents, {
    log, last: "RestoreFinished", onLeave,
    onEvent: (event) => { if (event.type === "RestoreFinished") show(event.data?.result ?? "finished"); },
  });
}

const restoreEvents = [
  "RestoreRequested", "RestoreTargetRequested", "RestoreTargetPrepared", "RestoreDiskStarted", "RestoreDiskCheckpointed",
  "RestoreDiskFinished", "RestorePowerOnRequested", "RestorePoweredOn", "RestorePowerOffRequested", "RestorePoweredOff",
  "RestoreThrottleApplied", "RestoreFilesCopied", "RestoreOverlayApplied", "RestoreFinished",
];
