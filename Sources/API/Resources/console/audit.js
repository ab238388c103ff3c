// The audit trail: catalog and identity changes, sign-ins, restores and the other requests,
// newest first, each with who made it and from where; filtered by the server. Above it, the
// two-person approvals still pending: an administrator approves or denies another's request
// and may withdraw their own (the server refuses anyone approving their own).
import { api, h, when, table, keysetPages, can, say } from "./dom.js";

export async function auditPage(target, { user }) {
  const actor = h("input", { id: "audit-actor", name: "actor", placeholder: "api:NAME or cli:LOGIN" });
  const category = h("select", { id: "audit-category", name: "category" },
    ["", "job", "repository", "server", "proxy", "throttle", "user", "token", "access", "restore", "publish", "session", "approval", "check"]
      .map((value) => h("option", { value }, value || "any")));
  const form = h("form", { class: "actions", role: "search" }, h("label", {}, "Who", actor), h("label", {}, "What", category),
    h("button", { type: "submit" }, "Filter"));
  const holder = h("div");
  const pages = keysetPages("before", async (before) => {
    const query = new URLSearchParams({ limit: "50" });
    if (actor.value.trim()) query.set("actor", actor.value.trim());
    if (category.value) query.set("category", category.value);
    if (before) query.set("before", before);
    const page = await api(`/audit?${query}`);
    holder.replaceChildren(table(["When", "Who", "What", "Object", { text: "From", class: "hide-narrow" }],
      page.items.map((entry) => h("tr", {},
        h("td", {}, when(entry.at)), h("td", {}, entry.actor ?? "–"), h("td", {}, entry.event_type),
        h("td", {}, subject(entry)), h("td", { class: "hide-narrow" }, entry.client_address ?? "–")))));
    return page;
  });
  target.append(h("h1", {}, "Audit"));
  if (can(user, "approvals:decide")) target.append(await pendingApprovals(user, () => pages.restart()));
  target.append(h("h2", {}, "Trail"), form, holder, pages.element);
  form.addEventListener("submit", (event) => { event.preventDefault(); pages.restart(); });
  await pages.restart();
}

/** What an entry is about, in words: the object's name when the event names it, else its stream. */
function subject(entry) {
  const details = entry.details ?? {};
  const name = details.definition?.name ?? details.to ?? details.name ?? details.user_name ?? details.job_name;
  const vms = Array.isArray(details.vms) ? details.vms.map((vm) => vm.vm_name ?? vm.name ?? vm).join(", ") : null;
  return [entry.category, name ?? vms ?? entry.stream_id].filter(Boolean).join(" ");
}

/** The requests waiting for a second administrator, oldest first: what would change, who
 * asked and until when; the decision is the server's (it records who decided). */
async function pendingApprovals(user, onDecided) {
  const holder = h("div", { id: "approvals-pending" });
  const section = h("section", { "aria-label": "Approvals pending" }, h("h2", {}, "Approvals pending"), holder);
  const mine = (request) => request.requested_by === `api:${user.name}`;
  const decide = (request, verb) => async () => {
    try {
      await api(`/approvals/${request.approval_id}/${verb}`, { method: "POST" });
      say(`${verb === "approve" ? "Approved" : mine(request) ? "Withdrew" : "Denied"}: ${describe(request)}.`);
    } catch (error) {
      say(`Not ${verb === "approve" ? "approved" : "denied"}: ${error.message}`);
    }
    await load();
    await onDecided();
  };
  async function load() {
    const page = await api("/approvals?state=pending&limit=100");
    const rows = page.items.slice().reverse().map((request) => h("tr", {},
      h("td", {}, describe(request)),
      h("td", {}, request.requested_by, h("div", { class: "muted" }, when(request.requested_at))),
      h("td", {}, when(request.expires_at)),
      h("td", {}, h("div", { class: "actions" },
        mine(request) ? null : h("button", { type: "button", class: "primary", "data-action": "approve",
          "aria-label": `Approve: ${describe(request)}`, onclick: decide(request, "approve") }, "Approve"),
        h("button", { type: "button", class: "danger", "data-action": "deny",
          "aria-label": `${mine(request) ? "Withdraw" : "Deny"}: ${describe(request)}`, onclick: decide(request, "deny") },
          mine(request) ? "Withdraw" : "Deny")))));
    holder.replaceChildren(table(["Request", "Asked by", "Expires", "Decision"], rows,
      { caption: page.next ? "The 100 newest pending requests." : undefined }));
  }
  await load();
  return section;
}

function describe(request) {
  if (request.action === "shorten-retention") {
    return `shorten the retention of ${request.object_kind} ${request.object_name} from ${request.retention_from ?? "?"} to ${request.retention_to ?? "?"}`;
  }
  return `${request.action} ${request.object_kind} ${request.object_name}`;
}
