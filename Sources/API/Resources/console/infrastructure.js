// Infrastructure: the managed servers (with the certificate thumbprint Tidemark pins), proxies
// (with whether a proxy process is live), repositories and throttling rules, as the catalog
// has them now. Each list is a page from the server.
import { api, h, table, when } from "./dom.js";

const sections = [
  {
    title: "Managed servers", path: "/servers",
    columns: ["Name", "Platform", "Address", "Certificate thumbprint", "Changed"],
    row: (s) => [s.server_name, s.platform, s.url ?? "–", s.thumbprint ?? "–", when(s.updated_at)],
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

export async function infrastructurePage(target) {
  target.append(h("h1", {}, "Infrastructure"));
  for (const section of sections) {
    const page = await api(`${section.path}?limit=100`);
    target.append(h("h2", {}, section.title),
      table(section.columns, page.items.map((item) => h("tr", {}, section.row(item).map((cell) => h("td", {}, String(cell)))))));
    if (page.next) target.append(h("p", { class: "muted" }, "More than 100: see the API's next page."));
  }
}
