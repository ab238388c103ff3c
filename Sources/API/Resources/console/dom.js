// What every page uses: elements built from data (text is always a text node, never parsed
// as markup), the API with the session cookie and the CSRF header, and formatters.

/** An element: attributes from an object, children from strings (as text) or nodes. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export class APIError extends Error {
  constructor(status, detail) {
    super(detail || `the server answered ${status}`);
    this.status = status;
  }
}

function csrfToken() {
  const found = document.cookie.split("; ").find((part) => part.startsWith("tidemark_csrf="));
  return found ? found.slice("tidemark_csrf=".length) : "";
}

/** A call to /api/v1: JSON in and out; a refusal throws APIError with the server's detail. */
export async function api(path, { method = "GET", body, background = false, headers = {} } = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (method !== "GET") sent["X-CSRF-Token"] = csrfToken();
  if (background) sent["X-Tidemark-Background"] = "1";
  if (body !== undefined && typeof body !== "string") sent["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method, headers: sent, credentials: "same-origin",
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new CustomEvent("tidemark:signed-out"));
    throw new APIError(response.status, data?.detail ?? "");
  }
  return data;
}

/** A call whose body is text (a job's YAML): the text and the ETag, or APIError. */
export async function apiText(path, { method = "GET", body, headers = {} } = {}) {
  const sent = { ...headers };
  if (method !== "GET") sent["X-CSRF-Token"] = csrfToken();
  const response = await fetch(`/api/v1${path}`, { method, headers: sent, credentials: "same-origin", body });
  const text = await response.text();
  if (!response.ok && response.status !== 202) {
    if (response.status === 401) window.dispatchEvent(new CustomEvent("tidemark:signed-out"));
    let detail = "";
    try { detail = JSON.parse(text).detail ?? ""; } catch { detail = ""; }
    throw new APIError(response.status, detail);
  }
  return { status: response.status, text, etag: response.headers.get("ETag") };
}

export function bytes(value) {
  if (value === null || value === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let number = Number(value);
  let unit = 0;
  while (number >= 1024 && unit < units.length - 1) { number /= 1024; unit += 1; }
  return `${number.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function when(value) {
  if (!value) return "–";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const total = Math.round(Number(seconds));
  const hours = Math.floor(total / 3600), minutes = Math.floor((total % 3600) / 60), rest = total % 60;
  return hours ? `${hours} h ${minutes} min` : minutes ? `${minutes} min ${rest} s` : `${rest} s`;
}

/** A session's or job's result as a coloured label (the word is always there, not only the colour). */
export function result(value) {
  const word = value || "none";
  return h("span", { class: `result result-${word}` }, word);
}

/** A table in a frame that scrolls sideways on a narrow screen; the frame takes the keyboard's
 * focus (and is named by the columns), so the hidden columns can be reached without a mouse. */
export function table(headings, rows, { caption } = {}) {
  const names = headings.map((heading) => (typeof heading === "string" ? heading : heading.text));
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption ?? `Table: ${names.join(", ")}` },
    h("table", {}, caption ? h("caption", { class: "muted" }, caption) : null,
      h("thead", {}, h("tr", {}, headings.map((heading) =>
        typeof heading === "string" ? h("th", { scope: "col" }, heading) : h("th", { scope: "col", class: heading.class }, heading.text)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headings.length, class: "muted" }, "Nothing to show")))));
}

let sayTimer = null;
/** Says something in the status line (read out by screen readers) for a few seconds. */
export function say(text) {
  const status = document.getElementById("status");
  if (!status) return;
  status.textContent = text;
  clearTimeout(sayTimer);
  sayTimer = setTimeout(() => { status.textContent = ""; }, 8000);
}

/** Whether the signed-in user holds a permission (the server checks again on every request). */
export function can(user, permission) {
  return Boolean(user?.permissions?.includes(permission));
}

/** Keyset paging over a list whose pages carry a `next` link: `show(cursor)` draws the page
 * after a cursor (null: the first) and returns it; the pager keeps the cursors seen, so the
 * first button goes back a page and the second on, by the link's `parameter`. */
export function keysetPages(parameter, show, labels = ["Newer", "Older"]) {
  const element = h("div", { class: "pager" });
  const cursors = [null];
  async function load(cursor) {
    const page = await show(cursor);
    const next = page.next ? new URL(page.next, location.origin).searchParams.get(parameter) : null;
    element.replaceChildren(
      h("button", { type: "button", disabled: cursors.length < 2, onclick: () => { cursors.pop(); load(cursors[cursors.length - 1]); } }, labels[0]),
      h("button", { type: "button", disabled: !next, onclick: () => { cursors.push(next); load(next); } }, labels[1]));
  }
  return { element, restart: () => { cursors.splice(1); return load(null); } };
}

/** A workflow's events followed live (Server-Sent Events: what it holds, then each event as it
 * commits): each one listed in `log` with its time and handed to `onEvent`; the stream ends
 * at the event `last` or when the page is left. A malformed event is skipped. */
export function followEvents(path, types, { log, onEvent = () => {}, last, onLeave }) {
  const source = new EventSource(`/api/v1${path}`);
  const handle = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    log.append(h("li", {}, `${new Date(event.recorded_at).toLocaleTimeString()} ${event.type}`));
    onEvent(event);
    if (event.type === last) source.close();
  };
  for (const type of types) source.addEventListener(type, handle);
  onLeave(() => source.close());
}

/** An SVG element with its attributes and, if given, its text. */
export function svg(tag, attributes = {}, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}
