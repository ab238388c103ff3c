// Statistics over a span of days: bytes per day, one repository's days, each job's sessions
// summed up, and one job's sessions over time (duration, bytes, dedupe and compression,
// bottleneck). The server computes every figure; each table has its CSV download for a
// spreadsheet.
import { api, h, bytes, when, result, table, duration, keysetPages } from "./dom.js";
import { dailyChart } from "./chart.js";

export async function statisticsPage(target) {
  const today = new Date().toISOString().slice(0, 10);
  const monthAgo = new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10);
  const from = h("input", { id: "statistics-from", name: "from", type: "date", value: monthAgo, required: true });
  const to = h("input", { id: "statistics-to", name: "to", type: "date", value: today, required: true });
  const job = h("input", { id: "statistics-job", name: "job", placeholder: "all jobs", autocomplete: "off" });
  const repositories = (await api("/repositories?limit=500")).items.map((r) => r.repository_name);
  const repository = h("select", { id: "statistics-repository", name: "repository" },
    repositories.map((name) => h("option", { value: name }, name)));
  const form = h("form", { class: "actions", role: "search" },
    h("label", {}, "From", from), h("label", {}, "To", to), h("label", {}, "Repository", repository),
    h("label", {}, "Job", job), h("button", { type: "submit" }, "Show"));
  const daily = h("section", { "aria-label": "Per day" });
  const perRepository = h("section", { "aria-label": "Per repository", id: "statistics-repository-days" });
  const sessions = h("section", { "aria-label": "Sessions over time" });
  const shown = (error) => sessions.replaceChildren(h("p", { class: "error", role: "alert" }, error.message));
  const jobs = jobTable((name) => { job.value = name; refresh().catch(shown); });
  target.append(h("h1", {}, "Statistics"), form, daily, perRepository, jobs.element, sessions);

  // Only the latest request draws: a slower earlier reply must not overwrite a newer one.
  let latest = 0;
  async function refresh() {
    const mine = ++latest;
    const span = new URLSearchParams({ from: from.value, to: to.value });
    const perDay = await api(`/statistics/daily?${span}`);
    const repositoryRows = await repositoryDays(span, repository.value);
    const rows = await sessionsOverTime(span, job.value.trim());
    if (mine !== latest) return;
    perRepository.replaceChildren(...repositoryRows);
    daily.replaceChildren(h("h2", {}, "Per day"), dailyChart(perDay.items, "No sessions in this span."),
      h("p", { class: "muted" }, "A session counts on the day it finished (UTC); the sessions below are listed by the day they started."),
      download(`/statistics/daily?${span}`, "Download per day as CSV"));
    sessions.replaceChildren(...rows);
  }
  repository.addEventListener("change", () => refresh().catch(shown));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh().catch(shown);
  });
  await jobs.restart();
  await refresh();
}

/** A CSV download of the same query: the session cookie goes with it; the server names the file. */
function download(path, text) {
  const query = path.includes("?") ? "&format=csv" : "?format=csv";
  return h("p", {}, h("a", { href: `/api/v1${path}${query}`, download: "", class: "download" }, text));
}

/** Each job's sessions summed up, 50 jobs a page; a job's name shows its sessions below. */
function jobTable(choose) {
  const holder = h("div", { id: "statistics-jobs" });
  const pages = keysetPages("after", async (after) => {
    const query = new URLSearchParams({ limit: "50" });
    if (after) query.set("after", after);
    const page = await api(`/statistics/jobs?${query}`);
    holder.replaceChildren(table(
      ["Job", "Sessions", "Succeeded", "Failed", { text: "Average", class: "hide-narrow" }, "Processed",
        { text: "Transferred", class: "hide-narrow" }, { text: "Last success", class: "hide-narrow" }],
      page.items.map((row) => h("tr", {},
        h("td", {}, h("button", { type: "button", class: "link", "aria-label": `Sessions of ${row.job_name} over time`,
          onclick: () => choose(row.job_name) }, row.job_name)),
        h("td", {}, row.sessions), h("td", {}, row.succeeded), h("td", {}, row.failed),
        h("td", { class: "hide-narrow" }, duration(row.average_duration_seconds)), h("td", {}, bytes(row.processed_bytes)),
        h("td", { class: "hide-narrow" }, bytes(row.transferred_bytes)), h("td", { class: "hide-narrow" }, when(row.last_success_at))))));
    return page;
  }, ["Previous", "Next"]);
  const element = h("section", { "aria-label": "Per job" }, h("h2", {}, "Per job"), holder, pages.element,
    download("/statistics/jobs", "Download per job as CSV"));
  return { element, restart: () => pages.restart() };
}

/** One repository's days in the span: its bytes as a chart, then each day's sessions and figures. */
async function repositoryDays(span, name) {
  const title = h("h2", {}, name ? `Repository ${name}` : "Per repository");
  if (!name) return [title, h("p", { class: "muted" }, "No repositories yet.")];
  const query = new URLSearchParams(span);
  query.set("repository", name);
  const page = await api(`/statistics/repositories?${query}`);
  const newest = [...page.items].reverse();
  return [title, dailyChart(page.items, "No sessions stored in this repository in this span."),
    table(["Day", "Sessions", "Failed", { text: "Time", class: "hide-narrow" }, "Processed",
      { text: "Transferred", class: "hide-narrow" }, { text: "Dedupe", class: "hide-narrow" },
      { text: "Compression", class: "hide-narrow" }, "Bottleneck"],
    newest.map((d) => h("tr", {}, h("td", {}, d.day), h("td", {}, d.sessions), h("td", {}, d.failed),
      h("td", { class: "hide-narrow" }, duration(d.duration_seconds)), h("td", {}, bytes(d.processed_bytes)),
      h("td", { class: "hide-narrow" }, bytes(d.transferred_bytes)), h("td", { class: "hide-narrow" }, ratio(d.dedupe_ratio)),
      h("td", { class: "hide-narrow" }, ratio(d.compression_ratio)), h("td", {}, d.bottleneck ?? "–")))),
    h("p", { class: "muted" }, "A session counts on the day it finished (UTC), in the repository it wrote to then."),
    download(`/statistics/repositories?${query}`, `Download the days of ${name} as CSV`),
    download(`/statistics/repositories?${span}`, "Download every repository's days as CSV")];
}

const ratio = (value) => (value ? `${Number(value).toFixed(2)}×` : "–");

/** One job's sessions in the span, newest first (the 100 newest shown; the CSV has all). */
async function sessionsOverTime(span, name) {
  const title = h("h2", {}, name ? `Sessions of ${name}` : "Sessions");
  if (!name) {
    return [title, h("p", { class: "muted" }, "Choose a job above to see its sessions over time."),
      download(`/statistics/sessions?${span}`, "Download every job's sessions in this span as CSV")];
  }
  const query = new URLSearchParams(span);
  query.set("job", name);
  const page = await api(`/statistics/sessions?${query}`);
  const newest = page.items.slice(-100).reverse();
  return [title,
    table(["Started", "Result", "Duration", "Processed", { text: "Transferred", class: "hide-narrow" },
      { text: "Dedupe", class: "hide-narrow" }, { text: "Compression", class: "hide-narrow" }, "Bottleneck"],
    newest.map((s) => h("tr", {},
      h("td", {}, h("a", { href: `#/sessions/${s.session_id}` }, when(s.started_at))), h("td", {}, result(s.result ?? s.state)),
      h("td", {}, duration(s.duration_seconds)), h("td", {}, bytes(s.processed_bytes)),
      h("td", { class: "hide-narrow" }, bytes(s.transferred_bytes)), h("td", { class: "hide-narrow" }, ratio(s.dedupe_ratio)),
      h("td", { class: "hide-narrow" }, ratio(s.compression_ratio)), h("td", {}, bottleneck(s)))),
    { caption: page.items.length > 100 ? `The newest 100 of ${page.items.length} sessions; the CSV has them all.` : undefined }),
    download(`/statistics/sessions?${query}`, `Download the sessions of ${name} as CSV`)];
}

function bottleneck(session) {
  if (!session.bottleneck) return "–";
  const busy = session[`busy_${session.bottleneck}_percent`];
  return busy === null || busy === undefined ? session.bottleneck : `${session.bottleneck} (${Math.round(busy)}% busy)`;
}
