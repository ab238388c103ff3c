// One publish (instant access): where NBD clients connect, what it serves, its clients and
// reads as they happen, and a stop for those who may restore. The server serves it until a
// stop is recorded, across its own restarts.
import { api, h, bytes, when, result, table, say, can, followEvents } from "./dom.js";

export async function publishPage(target, { user, parameters: [id], onLeave }) {
  // Just asked for, the publish may not be in the server's views yet: its events say the rest.
  const shown = await api(`/publishes/${id}`).catch((error) => {
    if (error.status === 404) return { publish_id: id, state: "requested" };
    throw error;
  });
  const state = h("p", { id: "publish-state" });
  const where = h("div", { id: "publish-address" });
  const figures = h("p", { id: "publish-figures", class: "muted" });
  const log = h("ol", { class: "log", id: "publish-log", "aria-label": "Events", tabindex: "0" });
  let clients = Number(shown.clients ?? 0);
  let disks = shown.disks ?? [];
  const showState = (value) => state.replaceChildren("State: ",
    value === "serving" ? h("span", { class: "result result-running" }, "serving") : result(value));
  const showAddress = (address, disks) => {
    if (!address) { where.replaceChildren(h("p", { class: "muted" }, "Not serving yet.")); return; }
    const exports = (disks ?? []).map(exportName);
    where.replaceChildren(table(["Export", "NBD URI", "Try it"], (exports.length ? exports : ["disk-KEY"]).map((name) => h("tr", {},
      h("td", {}, name), h("td", {}, h("code", {}, `nbd://${address}/${name}`)),
      h("td", {}, h("code", {}, `qemu-img info nbd://${address}/${name}`))))));
  };
  const showFigures = () => figures.replaceChildren(`${clients} ${clients === 1 ? "client" : "clients"} so far.`);
  showState(shown.state);
  showAddress(shown.address, shown.disks);
  showFigures();
  const stop = h("button", { type: "button", class: "danger", id: "publish-stop", onclick: async () => {
    stop.disabled = true;
    try {
      const stopped = await api(`/publishes/${id}/stop`, { method: "POST", body: { reason: "stopped from the console" } });
      say("Publish stopped.");
      showState("stopped");
      if (stopped.bytes_read !== undefined) figures.replaceChildren(`Served ${bytes(stopped.bytes_read)} to ${stopped.clients ?? clients} clients.`);
    } catch (error) {
      say(`The publish was not stopped: ${error.message}`);
      stop.disabled = false;
    }
  } }, "Stop serving");
  target.append(h("h1", {}, `Publish of ${shown.vm_name ?? "a restore point"}`), state,
    table(["Requested", "By", "Restore point", "Writable", "Reason"], [h("tr", {},
      h("td", {}, when(shown.requested_at)), h("td", {}, shown.requested_by ?? "–"), h("td", {}, shown.restore_point_id ?? "–"),
      h("td", {}, shown.writable ? "yes (writes kept in an overlay)" : "no"), h("td", {}, shown.reason_given ?? "–"))]),
    h("h2", {}, "Where to connect"), where, figures,
    can(user, "restores:run") && shown.state !== "stopped" ? stop : null,
    h("h2", {}, "Events"), log);
  const types = ["PublishRequested", "PublishStarted", "PublishClientConnected", "PublishStopRequested", "PublishStopped"];
  followEvents(`/publishes/${id}/events`, types, {
    log, last: "PublishStopped", onLeave,
    onEvent: (event) => {
      if (event.type === "PublishRequested") disks = event.data?.disks ?? disks;
      if (event.type === "PublishStarted") {
        showState("serving");
        showAddress(event.data?.address ?? shown.address, disks);
      }
      if (event.type === "PublishClientConnected") { clients += 1; showFigures(); }
      if (event.type === "PublishStopped") { showState("stopped"); stop.remove(); }
    },
  });
}

/** A disk's NBD export name, from a disk as events ({key}), the view (disk-2000) or a key. */
function exportName(disk) {
  if (disk && typeof disk === "object") return `disk-${disk.key}`;
  return /^disk-/.test(String(disk)) ? String(disk) : `disk-${disk}`;
}
