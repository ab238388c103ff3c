// The audit trail: catalog and identity changes, sign-ins, restores and the other requests,
// newest first, each with who made it and from where; filtered by the server.
import { api, h, when, table, keysetPages } from "./dom.js";

export async function auditPage(target) {
  const actor = h("input", { id: "audit-actor", name: "actor", placeholder: "api:NAME or cli:LOGIN" });
  const category = h("select", { id: "audit-category", name: "category" },
    ["", "job", "repository", "server", "proxy", "throttle", "user", "token", "access", "restore", "publish", "session", "approval"]
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
  target.append(h("h1", {}, "Audit"), form, holder, pages.element);
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
