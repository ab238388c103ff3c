// Infrastructure: the managed servers (with the certificate thumbprint Tidemark pins), proxies
// (with whether a proxy process is live), repositories and throttling rules, as the catalog
// has them now. Each list is a page from the server. A server's last check shows beside it,
// and administrators can check it again: the server connects as a session would.
import { api, h, table, when, can, say } from "./dom.js";

const sections = [
  {
    title: "Managed servers", path: "/servers",
    columns: ["Name", "Platform", "Address", "Certificate thumbprint", "Changed", "Last check"],
    row: (s, context) => [s.server_name, s.platform, s.url ?? "–", s.thumbprint ?? "–", when(s.updated_at), checkCell(s, context)],
  },
  {
    title: "Proxies", path: "/proxies",
    columns: ["Name", "Site", "Transport modes", "Tasks at once", "Process"],
    row: (p) => [p.proxy_name, p.site ?? "–", (p.transport_modes ?? []).join?.(", ") ?? String(p.transport_modes ?? "–"),
      p.max_concurrent_tasks ?? "–", p.process_state ?? p.state ?? "–"],
  },
  {
    title: "Repositories", path: "/repositories",
    columns: ["Name", "Path", "Tasks at once", "Free space threshold", "Site"],
    row: (r) => [r.repository_name, r.path, r.max_concurrent_tasks ?? "–",
      r.free_space_threshold_percent === null || r.free_space_threshold_percent === undefined ? "–" : `${r.free_space_threshold_percent}%`, r.site ?? "–"],
  },
  {
    title: "Throttling rules", path: "/throttling-rules",
    columns: ["Name", "Rate", "Window"],
    row: (t) => [t.rule_name, t.bytes_per_second ? `${t.bytes_per_second} B/s` : "–",
      t.window_start ? `${t.window_start}–${t.window_end}` : "always"],
  },
];

export async function infrastructurePage(target, { user }) {
  target.append(h("h1", {}, "Infrastructure"));
  const latest = new Map();
  const context = { user, latest };
  for (const section of sections) {
    const page = await api(`${section.path}?limit=100`);
    if (section.path === "/servers") {
      // Each server's newest check, asked of the server by name (a busy server's many checks
      // would push a quiet one's out of any one page).
      const checks = await Promise.all(page.items.map((server) =>
        api(`/server-checks?limit=1&server=${encodeURIComponent(server.server_name)}`).catch(() => ({ items: [] }))));
      page.items.forEach((server, index) => { if (checks[index].items.length) latest.set(server.server_id, checks[index].items[0]); });
    }
    target.append(h("h2", {}, section.title),
      table(section.columns, page.items.map((item) => h("tr", {},
        section.row(item, context).map((cell) => h("td", {}, cell instanceof Node ? cell : String(cell)))))));
    if (page.next) target.append(h("p", { class: "muted" }, "More than 100: see the API's next page."));
  }
}

/** The server's last check and, for administrators, a button to check it now. */
function checkCell(server, { user, latest }) {
  const outcome = h("div", { class: "check-outcome", role: "status" }, describeCheck(latest.get(server.server_id)));
  if (!can(user, "catalog:write")) return outcome;
  const button = h("button", { type: "button", "data-action": "check", "aria-label": `Check ${server.server_name}` }, "Check");
  button.addEventListener("click", async () => {
    button.disabled = true;
    outcome.replaceChildren("Connecting…");
    try {
      const check = await api(`/servers/${encodeURIComponent(server.server_name)}/check`, { method: "POST" });
      outcome.replaceChildren(describeCheck(check));
      say(`${server.server_name}: ${check.ok ? "ok" : "cannot be used"}.`);
    } catch (error) {
      outcome.replaceChildren(h("span", { class: "error" }, error.message));
    } finally {
      button.disabled = false;
    }
  });
  return h("div", {}, outcome, button);
}

function describeCheck(check) {
  if (!check) return h("span", { class: "muted" }, "never checked");
  if (check.ok === null || check.ok === undefined) {
    return h("span", { class: "muted" }, `started ${when(check.started_at)} by ${check.checked_by ?? "–"}: still running, or cut short`);
  }
  const by = h("div", { class: "muted" }, `${when(check.finished_at)} by ${check.checked_by ?? "–"}`);
  if (!check.ok) return h("div", {}, h("span", { class: "result result-failed" }, "failed"), ` ${check.reason ?? ""}`, by);
  const plural = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;
  const certificate = check.certificate_thumbprint
    ? h("div", { class: "muted" }, `certificate SHA-256 ${check.certificate_thumbprint.slice(0, 16)}… (${check.certificate_pinned ? "pinned" : "CA"})`)
    : null;
  return h("div", {}, h("span", { class: "result result-success" }, "ok"),
    ` ${check.product ?? ""}: ${plural(check.vms ?? 0, "VM")}, ${plural(check.hosts ?? 0, "host")}`, certificate, by);
}
