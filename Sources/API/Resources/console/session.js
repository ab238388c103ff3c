// Sessions: the list (newest first, filtered and paged by the server) and one session, live
// while it runs: the server's Server-Sent Events move each task's progress bar as checkpoints
// land, and the statistics appear when it finishes. Nothing is polled.
import { api, h, bytes, when, result, table, duration, keysetPages } from "./dom.js";

export async function sessionsPage(target) {
  const state = h("select", { id: "session-result", "aria-label": "Result" },
    ["any", "success", "warning", "failed", "stopped"].map((value) => h("option", { value }, value)));
  const holder = h("div");
  const pages = keysetPages("before", async (before) => {
    const query = new URLSearchParams({ limit: "50" });
    if (state.value !== "any") query.set("result", state.value);
    if (before) query.set("before", before);
    const page = await api(`/sessions?${query}`);
    holder.replaceChildren(table(["Job", "Started", "Result", { text: "Duration", class: "hide-narrow" }, "Processed"],
      page.items.map((s) => h("tr", {},
        h("td", {}, h("a", { href: `#/sessions/${s.session_id}` }, s.job_name ?? s.session_id)),
        h("td", {}, when(s.started_at)), h("td", {}, result(s.result ?? s.state)),
        h("td", { class: "hide-narrow" }, duration(s.duration_seconds)), h("td", {}, bytes(s.processed_bytes))))));
    return page;
  });
  target.append(h("h1", {}, "Sessions"), h("label", {}, "Result ", state), holder, pages.element);
  state.addEventListener("change", () => pages.restart());
  await pages.restart();
  performance.mark("tidemark:sessions-rendered");
}

export async function sessionPage(target, { parameters: [id], onLeave }) {
  const shown = await api(`/sessions/${id}`);
  const session = shown.session;
  const heading = h("h1", {}, `Session of ${session.job_name ?? "a job"}`);
  const state = h("p", { id: "session-state" });
  const tasksBody = h("tbody");
  const summary = h("div", { id: "session-summary" });
  const log = h("ol", { class: "log", id: "session-log", "aria-label": "Events", tabindex: "0" });
  target.append(heading, state, h("p", {}, h("a", { href: `#/sessions/${id}/replay`, id: "replay-link" }, "Replay this session")),
    h("h2", {}, "Tasks"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["VM", "Disk", "Proxy", "Progress", "Result"].map((t) => h("th", { scope: "col" }, t)))), tasksBody)),
    summary, h("h2", {}, "Events"), log);

  const tasks = new Map();
  const view = { result: session.result, state: session.state };
  function showState() {
    state.replaceChildren("State: ", result(view.result ?? view.state),
      ` · started ${when(session.started_at)}`, session.trigger ? ` · trigger ${session.trigger}` : "");
  }
  showState();

  function task(id) {
    if (!tasks.has(id)) {
      const bar = h("progress", { max: "100", value: "0", "aria-label": "Progress" });
      const cells = { vm: h("td"), disk: h("td"), proxy: h("td", {}, "–"), percent: h("span", { class: "muted" }, " 0%"), result: h("td", {}, "running") };
      const row = h("tr", { "data-task": id }, cells.vm, cells.disk, cells.proxy, h("td", {}, bar, cells.percent), cells.result);
      tasksBody.append(row);
      tasks.set(id, { bar, cells, size: 0 });
    }
    return tasks.get(id);
  }

  function apply(event) {
    const data = event.data ?? {};
    const line = describe(event.type, data);
    log.append(h("li", {}, `${new Date(event.recorded_at).toLocaleTimeString()} ${event.type}${line ? ` — ${line}` : ""}`));
    log.scrollTop = log.scrollHeight;
    switch (event.type) {
      case "TaskStarted": {
        const t = task(data.task_id);
        t.cells.vm.textContent = data.vm_name ?? data.vm_id ?? "";
        t.cells.disk.textContent = `${data.disk_key ?? ""} (${bytes(data.size_bytes)})`;
        t.size = Number(data.size_bytes) || 0;
        break;
      }
      case "ProxySelected": case "TaskAssigned": case "TaskReassigned": {
        // The proxy chosen and how it reads the disk; the log line says why.
        const cell = task(data.task_id).cells.proxy;
        cell.textContent = [data.proxy_name, data.transport_mode].filter(Boolean).join(" · ") || "–";
        break;
      }
      case "TransferCheckpointed": {
        const t = task(data.task_id);
        const percent = t.size ? Math.min(100, Math.round((Number(data.offset) / t.size) * 100)) : 0;
        t.bar.value = percent;
        t.cells.percent.textContent = ` ${percent}%`;
        break;
      }
      case "TaskFinished": {
        const t = task(data.task_id);
        if (data.result === "success") { t.bar.value = 100; t.cells.percent.textContent = " 100%"; }
        t.cells.result.replaceChildren(result(data.result), data.message ? h("div", { class: "muted" }, data.message) : "");
        break;
      }
      case "SessionFinished":
        view.result = data.result;
        view.state = "finished";
        showState();
        summary.replaceChildren(h("h2", {}, "Statistics"), table(["Measure", "Value"], [
          ["Processed", bytes(data.processed_bytes)], ["Read", bytes(data.read_bytes)], ["Transferred", bytes(data.transferred_bytes)],
          ["Duration", duration(data.duration_seconds)], ["Bottleneck", data.bottleneck ?? "–"],
          ["Dedupe", data.dedupe_ratio ?? "–"], ["Compression", data.compression_ratio ?? "–"], ["Reason", data.reason ?? "–"],
        ].map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, String(v))))));
        break;
      default:
        break;
    }
  }

  // The server sends what the session holds, then each event as it commits, then ends at
  // SessionFinished; the browser resumes with Last-Event-ID if the connection drops.
  const source = new EventSource(`/api/v1/sessions/${id}/events`);
  const handle = (message) => {
    try { apply(JSON.parse(message.data)); } catch { /* a malformed event is skipped */ }
    if (message.type === "SessionFinished") source.close();
  };
  for (const type of eventTypes) source.addEventListener(type, handle);
  // The stream ended: finished, or refused (a session that went idle): ask who we are, which
  // signs the page out if the session is gone; the browser reconnects otherwise.
  source.onerror = () => {
    if (view.state === "finished") source.close();
    else api("/whoami", { background: true }).catch(() => source.close());
  };
  onLeave(() => source.close());
}

const eventTypes = [
  "SessionStarted", "ObjectsEnumerated", "RepositoryChecked", "TaskWaited", "ProxySelected", "TaskAssigned", "TaskReassigned",
  "TaskStarted", "ApplicationProcessed", "SnapshotRequested", "SnapshotCreated", "ThrottleApplied", "TransferStarted",
  "TransferCheckpointed", "TransferFinished", "SnapshotRemoved", "TaskFinished", "RestorePointCreated", "RestorePointRemoved",
  "RetentionDeferred", "GuestIndexStarted", "GuestIndexFinished", "SessionFinished",
];

/** One line of what an event says, for the log. */
function describe(type, data) {
  switch (type) {
    case "ObjectsEnumerated": return `${(data.vms ?? []).length} VMs`;
    case "ProxySelected": {
      const chosen = (data.candidates ?? []).find((c) => c.proxy_id === data.proxy_id);
      return `proxy ${data.proxy_name ?? ""}${chosen?.reason ? ` (${chosen.reason})` : ""}, ${(data.candidates ?? []).length} considered`;
    }
    case "TaskAssigned": return data.proxy_name ? `proxy ${data.proxy_name}` : "";
    case "TaskWaited": return data.reason ?? "";
    case "ThrottleApplied": return data.rule_name ?? data.reason ?? "";
    case "TaskStarted": return `${data.vm_name ?? ""} disk ${data.disk_key ?? ""}`;
    case "TransferCheckpointed": return `${bytes(data.offset)} read`;
    case "TaskFinished": case "SessionFinished": return data.result ?? "";
    default: return "";
  }
}
