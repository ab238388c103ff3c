// The console's shell: who is signed in, the navigation, and the pages by their address
// (#/dashboard, #/jobs, #/jobs/NAME, #/sessions, #/sessions/ID, #/statistics, #/audit, ...). Every page reads
// the API only; the server checks every permission again.
import { api, h, say, can } from "./dom.js";
import { signInPage } from "./signin.js";
import { dashboardPage } from "./dashboard.js";
import { jobsPage, jobPage } from "./jobs.js";
import { sessionsPage, sessionPage } from "./session.js";
import { auditPage } from "./audit.js";
import { restorePointsPage, restorePage } from "./restore.js";
import { replayPage } from "./replay.js";
import { infrastructurePage } from "./infrastructure.js";
import { statisticsPage } from "./statistics.js";
import { publishPage } from "./publish.js";

const main = () => document.getElementById("main");
let user = null;
/** Ended by the next page: its timers, streams and listeners. */
let leaving = [];

const routes = [
  [/^#\/dashboard$/, () => dashboardPage],
  [/^#\/jobs$/, () => jobsPage],
  [/^#\/jobs\/([^/]+)$/, () => jobPage],
  [/^#\/sessions$/, () => sessionsPage],
  [/^#\/sessions\/([0-9a-f-]{36})$/, () => sessionPage],
  [/^#\/sessions\/([0-9a-f-]{36})\/replay$/, () => replayPage],
  [/^#\/audit$/, () => auditPage],
  [/^#\/infrastructure$/, () => infrastructurePage],
  [/^#\/statistics$/, () => statisticsPage],
  [/^#\/restore-points$/, () => restorePointsPage],
  [/^#\/restores\/([0-9a-f-]{36})$/, () => restorePage],
  [/^#\/publishes\/([0-9a-f-]{36})$/, () => publishPage],
];

async function show() {
  for (const end of leaving) end();
  leaving = [];
  const hash = location.hash || "#/dashboard";
  if (!user) {
    showSignedOut();
    return;
  }
  for (const link of document.querySelectorAll("nav a")) {
    const current = hash.startsWith(link.getAttribute("href"));
    if (current) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  const route = routes.find(([pattern]) => pattern.test(hash));
  const target = main();
  target.replaceChildren();
  if (!route) {
    target.append(h("h1", {}, "Not found"), h("p", {}, "This page does not exist. ", h("a", { href: "#/dashboard" }, "Go to the dashboard")));
    return;
  }
  try {
    const parameters = hash.match(route[0]).slice(1).map(decodeURIComponent);
    await route[1]()(target, { user, parameters, onLeave: (end) => leaving.push(end) });
  } catch (error) {
    if (error.status === 401) return;
    if (error instanceof URIError) {
      target.append(h("h1", {}, "Not found"), h("p", {}, "This address is not one the console makes."));
      return;
    }
    target.append(h("p", { class: "error", role: "alert" }, error.message));
  }
  target.focus({ preventScroll: true });
}

function showSignedOut() {
  user = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  for (const end of leaving) end();
  leaving = [];
  signInPage(main(), {
    onSignedIn: async () => {
      await loadUser();
      show();
    },
  });
}

async function loadUser() {
  try {
    user = await api("/whoami");
  } catch {
    user = null;
    return;
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("sign-out").hidden = false;
  document.getElementById("who").textContent = `${user.name} (${user.role})`;
  for (const link of document.querySelectorAll("nav a[data-permission]")) {
    link.hidden = !can(user, link.dataset.permission);
  }
}

document.getElementById("sign-out").addEventListener("click", async () => {
  try { await api("/sign-out", { method: "POST" }); } catch { /* signed out either way */ }
  say("Signed out.");
  showSignedOut();
});
window.addEventListener("tidemark:signed-out", () => { if (user) { say("Your session ended: sign in again."); showSignedOut(); } });
window.addEventListener("hashchange", show);
await loadUser();
show();
