// The dashboard: the last 24 hours and 7 days at a glance, what needs attention first, what
// runs now, data per day, and the projections' lag when it is high. Refreshed every 15 s
// in the background (a refresh does not count as the user being active).
import { api, h, bytes, when, result, table, duration } from "./dom.js";
import { dailyChart } from "./chart.js";

const outcomes = ["success", "warning", "failed", "stopped", "running"];

export async function dashboardPage(target, { onLeave }) {
  const body = h("div", { id: "dashboard" });
  target.append(h("h1", {}, "Dashboard"), body);
  async function refresh(background) {
    const data = await api("/dashboard", { background });
    body.replaceChildren(...render(data));
  }
  await refresh(false);
  // When the first data is drawn: what `tidemark bench console` times as first paint.
  performance.mark("tidemark:dashboard-rendered");
  const timer = setInterval(() => refresh(true).catch(() => {}), 15000);
  onLeave(() => clearInterval(timer));
}

function counts(title, byOutcome) {
  const total = Object.values(byOutcome).reduce((sum, n) => sum + n, 0);
  return h("section", { class: "card", "aria-label": title },
    h("h2", {}, title),
    h("div", { class: "big" }, `${total} ${total === 1 ? "session" : "sessions"}`),
    h("ul", {}, outcomes.filter((o) => byOutcome[o]).map((o) => h("li", {}, result(o), ` ${byOutcome[o]}`))));
}

function render(data) {
  const parts = [h("div", { class: "cards" }, counts("Last 24 hours", data.last_24_hours), counts("Last 7 days", data.last_7_days))];
  parts.push(h("h2", {}, "Needs attention"));
  parts.push(table(["Job", "Why", "Last result", "Last finished", "Last success"],
    data.attention.map((job) => h("tr", {},
      h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(job.job_name)}` }, job.job_name)),
      h("td", {}, job.why, job.last_reason ? h("div", { class: "muted" }, job.last_reason) : null),
      h("td", {}, result(job.last_result)),
      h("td", {}, when(job.last_finished_at)),
      h("td", {}, when(job.last_success_at))))));
  parts.push(h("h2", {}, "Running now"));
  parts.push(table(["Job", "Started", "VMs", "Processed", "Rate"],
    data.running.map((session) => h("tr", {},
      h("td", {}, h("a", { href: `#/sessions/${session.session_id}` }, session.job_name)),
      h("td", {}, when(session.started_at)),
      h("td", {}, session.vm_count ?? "–"),
      h("td", {}, bytes(session.processed_bytes)),
      h("td", {}, session.rate_bytes_per_second ? `${bytes(session.rate_bytes_per_second)}/s` : "–")))));
  parts.push(h("h2", {}, "Data per day"));
  parts.push(dailyChart(data.daily, "No sessions in the last two weeks."));
  const lagging = data.projections.filter((p) => p.lagging);
  if (lagging.length) {
    parts.push(h("h2", {}, "Projections behind the log"));
    parts.push(table(["Projection", "Events behind", "Behind by"],
      lagging.map((p) => h("tr", {}, h("td", {}, p.projection), h("td", {}, p.events_behind), h("td", {}, duration(p.seconds_behind))))));
  }
  return parts;
}
