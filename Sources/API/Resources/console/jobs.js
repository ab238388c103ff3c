// Jobs: the table (paged by the server, 50 at a time) with each job's last result, last and
// next run and schedule, start and stop for those who may run jobs; a job's page with its
// settings, its history of changes field by field, and its sessions.
import { api, apiText, h, bytes, when, result, table, say, can, APIError, keysetPages } from "./dom.js";

export async function jobsPage(target, { user }) {
  const holder = h("div");
  const pages = keysetPages("after", async (after) => {
    const query = new URLSearchParams({ limit: "50" });
    if (after) query.set("after", after);
    const page = await api(`/jobs?${query}`);
    holder.replaceChildren(table(
      ["Job", "Last result", { text: "Last run", class: "hide-narrow" }, "Next run", { text: "Schedule", class: "hide-narrow" }, "Actions"],
      page.items.map((job) => row(job, user))));
    return page;
  }, ["Previous", "Next"]);
  target.append(h("h1", {}, "Jobs"), holder, pages.element);
  await pages.restart();
}

function row(job, user) {
  return h("tr", {},
    h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(job.job_name)}` }, job.job_name),
      job.enabled ? null : h("span", { class: "muted" }, " (disabled)"),
      job.description ? h("div", { class: "muted" }, job.description) : null),
    h("td", {}, result(job.last_result)),
    h("td", { class: "hide-narrow" }, when(job.last_started_at)),
    h("td", {}, when(job.next_run_at)),
    h("td", { class: "hide-narrow" }, job.schedule ?? "manual"),
    h("td", {}, can(user, "jobs:run") ? controls(job.job_name) : h("span", { class: "muted" }, "–")));
}

/** Start, stop (graceful) and stop now (immediate): only for roles that run jobs. */
function controls(name) {
  const start = async () => {
    try {
      const started = await api(`/jobs/${encodeURIComponent(name)}/start`, { method: "POST" });
      say(`Job ${name} started.`);
      location.hash = `#/sessions/${started.session_id}`;
    } catch (error) { say(`Job ${name} did not start: ${error.message}`); }
  };
  const stop = (mode) => async () => {
    try {
      await api(`/jobs/${encodeURIComponent(name)}/stop?mode=${mode}`, { method: "POST" });
      say(`Asked job ${name} to stop (${mode}).`);
    } catch (error) { say(`Job ${name} was not stopped: ${error.message}`); }
  };
  return h("div", { class: "actions" },
    h("button", { type: "button", class: "primary", "data-action": "start", "aria-label": `Start ${name}`, onclick: start }, "Start"),
    h("button", { type: "button", "data-action": "stop", "aria-label": `Stop ${name}`, onclick: stop("graceful") }, "Stop"),
    h("button", { type: "button", class: "danger", "data-action": "stop-now", "aria-label": `Stop ${name} now`, onclick: stop("immediate") }, "Stop now"));
}

export async function jobPage(target, { user, parameters: [name] }) {
  let job;
  try {
    job = await api(`/jobs/${encodeURIComponent(name)}`);
  } catch (error) {
    if (error instanceof APIError && error.status === 404) {
      target.append(h("h1", {}, "No such job"), h("p", {}, error.message));
      return;
    }
    throw error;
  }
  const settings = [
    ["Description", job.description], ["Enabled", job.enabled ? "yes" : "no"], ["Server", job.server_name],
    ["Repository", job.repository_name], ["Proxies", job.proxies], ["Schedule", job.schedule ?? "manual"],
    ["Time zone", job.time_zone], ["Retention", typeof job.retention === "object" ? JSON.stringify(job.retention) : job.retention],
    ["Changed", `${when(job.updated_at)} by ${job.updated_by ?? "–"} (version ${job.definition_version})`],
  ];
  target.append(
    h("h1", {}, `Job ${job.job_name}`),
    can(user, "jobs:run") ? controls(job.job_name) : h("span"),
    h("h2", {}, "Settings"),
    table(["Setting", "Value"], settings.map(([key, value]) => h("tr", {}, h("th", { scope: "row" }, key), h("td", {}, value ?? "–")))));
  const history = changeHistory(job.job_name);
  if (can(user, "catalog:write")) target.append(await yamlEditor(job.job_name, history.refresh));
  await history.refresh();
  target.append(history.element);
  const sessions = await api(`/sessions?limit=20&job=${encodeURIComponent(job.job_name)}`);
  target.append(h("h2", {}, "Sessions"), table(["Started", "Result", "Trigger", "Processed"],
    sessions.items.map((s) => h("tr", {},
      h("td", {}, h("a", { href: `#/sessions/${s.session_id}` }, when(s.started_at))),
      h("td", {}, result(s.result ?? s.state)), h("td", {}, s.trigger ?? "–"), h("td", {}, bytes(s.processed_bytes))))));
}

/** Every change to the job, newest first, field by field (before → after), with who and
 * when: the server reads it from the job's stream in the log, 20 changes a page. */
function changeHistory(name) {
  const holder = h("div", { id: "job-history" });
  const pages = keysetPages("before", async (before) => {
    const query = new URLSearchParams({ limit: "20" });
    if (before) query.set("before", before);
    const page = await api(`/jobs/${encodeURIComponent(name)}/history?${query}`);
    holder.replaceChildren(table(["When", "Who", "Change", "Fields"], page.items.map((entry) => h("tr", {},
      h("td", {}, when(entry.recorded_at), h("div", { class: "muted" }, `version ${entry.version}`)),
      h("td", {}, entry.actor), h("td", {}, entry.change.replace(/^Job/, "")),
      h("td", {}, entry.fields.length ? h("ul", { class: "changes" }, entry.fields.map((field) => h("li", {},
        h("strong", {}, field.field), ": ", field.before ? `${field.before} → ${field.after}` : field.after))) : "–")))));
    return page;
  });
  return {
    element: h("section", { "aria-label": "History of changes" }, h("h2", {}, "History of changes"), holder, pages.element),
    refresh: () => pages.restart(),
  };
}

/** The job as YAML, changed in place: a preview (the server's dry run: what would change),
 * then the change itself, both against the version read (If-Match), so nobody's change is
 * overwritten unseen. Shortening retention waits for a second administrator. */
async function yamlEditor(name, onChanged) {
  const path = `/jobs/${encodeURIComponent(name)}`;
  const read = await apiText(path, { headers: { Accept: "application/yaml" } });
  let version = read.etag;
  const text = h("textarea", { id: "job-yaml", rows: "14", spellcheck: "false", "aria-label": `The definition of ${name} as YAML` }, read.text);
  const outcome = h("div", { id: "job-yaml-outcome", role: "status" });
  const send = async (dryRun) => {
    outcome.replaceChildren();
    try {
      const reply = await apiText(`${path}${dryRun ? "?dry_run=true" : ""}`, {
        method: "PUT", body: text.value, headers: { "Content-Type": "application/yaml", "If-Match": version, Accept: "application/json" },
      });
      const data = JSON.parse(reply.text || "{}");
      if (reply.status === 202) {
        outcome.append(h("p", {}, "This change shortens retention: it waits for a second administrator's approval."));
        return;
      }
      const changes = data.changes ?? [];
      outcome.append(h("p", {}, dryRun ? (changes.length ? "Would change:" : "Nothing would change.") : (changes.length ? "Changed:" : "Nothing changed.")),
        h("ul", {}, changes.map((c) => h("li", {}, `${c.event_type}${c.changed_fields?.length ? `: ${c.changed_fields.join(", ")}` : ""}`))));
      if (!dryRun && reply.etag) {
        version = reply.etag;
        say(`Job ${name} changed.`);
        await onChanged();
      }
    } catch (error) {
      outcome.append(h("p", { class: "error", role: "alert" }, error.message));
    }
  };
  return h("section", { "aria-label": "Edit as YAML" }, h("h2", {}, "Edit as YAML"), text,
    h("div", { class: "actions" },
      h("button", { type: "button", id: "job-yaml-preview", onclick: () => send(true) }, "Preview the change"),
      h("button", { type: "button", class: "primary", id: "job-yaml-apply", onclick: () => send(false) }, "Apply")),
    outcome);
}
