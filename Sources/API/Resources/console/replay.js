// A session's replay: its events on a timeline, one lane per task (the session's own events
// on the first), the decisions marked, and a scrubber that asks the server where every task
// stood at that instant (the same replay as `tidemark session replay`).
import { api, h, svg as make } from "./dom.js";

const decisions = new Set(["ProxySelected", "TaskWaited", "ThrottleApplied", "TaskReassigned", "RetentionDeferred", "RestoreThrottleApplied"]);

export async function replayPage(target, { parameters: [id] }) {
  const items = [];
  let after = 0;
  // Pages of 500 by stream version, up to 10,000 events drawn.
  for (let page = 0; page < 20; page += 1) {
    const part = await api(`/sessions/${id}/timeline?limit=500&after=${after}`);
    items.push(...part.items);
    if (part.items.length < 500) break;
    after = part.next_after;
  }
  const duration = Math.max(0.001, ...items.map((item) => item.offset_seconds));
  const lanes = ["session", ...new Set(items.map((item) => item.lane).filter(Boolean))];
  const state = h("pre", { id: "replay-state", class: "log", "aria-live": "polite", "aria-label": "Where everything stood", tabindex: "0" });
  const scrubber = h("input", { type: "range", id: "replay-at", min: "0", max: String(duration), step: "any", value: String(duration),
    "aria-label": "Moment of the session, in seconds from its start" });
  const moment = h("output", { for: "replay-at" }, `+${duration.toFixed(3)} s`);
  const picture = drawing(items, lanes, duration);
  const list = h("ol", { class: "log", id: "replay-events", "aria-label": "Events", tabindex: "0" },
    items.map((item) => h("li", { "data-offset": item.offset_seconds, class: decisions.has(item.type) ? "decision" : undefined },
      `+${item.offset_seconds.toFixed(3)} s  ${item.lane ?? "session"}  ${item.text}`)));
  target.append(h("h1", {}, "Replay"), h("p", {}, h("a", { href: `#/sessions/${id}` }, "Back to the session")),
    picture.svg, h("label", {}, "Where everything stood at ", moment, scrubber), state,
    h("h2", {}, `Events (${items.length})`), list);

  let pending = null;
  async function showAt(seconds) {
    moment.textContent = `+${seconds.toFixed(3)} s`;
    picture.cursor(seconds);
    for (const line of list.children) line.classList.toggle("later", Number(line.dataset.offset) > seconds);
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const answer = await api(`/sessions/${id}/timeline?at=${seconds}`);
      state.textContent = answer.state;
    }, 150);
  }
  scrubber.addEventListener("input", () => showAt(Number(scrubber.value)));
  await showAt(duration);
}

/** The lanes as SVG: a dot per event, a diamond per decision, a line for the scrubber. */
function drawing(items, lanes, duration) {
  const left = 150, width = 900, row = 24;
  const height = lanes.length * row + 20;
  const svg = make("svg", { class: "timeline", viewBox: `0 0 ${left + width + 10} ${height}`, role: "img",
    "aria-label": `Timeline of ${items.length} events in ${lanes.length} lanes` });
  const x = (seconds) => left + (seconds / duration) * width;
  lanes.forEach((lane, index) => {
    const y = index * row + 16;
    svg.append(make("text", { x: 4, y: y + 4 }, lane.length > 22 ? `…${lane.slice(-21)}` : lane));
    svg.append(make("line", { x1: left, x2: left + width, y1: y, y2: y, class: "lane" }));
  });
  for (const item of items) {
    const y = lanes.indexOf(item.lane ?? "session") * row + 16;
    const mark = decisions.has(item.type)
      ? make("rect", { x: x(item.offset_seconds) - 4, y: y - 4, width: 8, height: 8, class: "decision", transform: `rotate(45 ${x(item.offset_seconds)} ${y})` })
      : make("circle", { cx: x(item.offset_seconds), cy: y, r: 3, class: "event" });
    mark.append(make("title", {}, `+${item.offset_seconds.toFixed(3)} s ${item.text}`));
    svg.append(mark);
  }
  const cursor = make("line", { x1: x(duration), x2: x(duration), y1: 0, y2: height, class: "cursor" });
  svg.append(cursor);
  return {
    svg,
    cursor: (seconds) => { cursor.setAttribute("x1", x(seconds)); cursor.setAttribute("x2", x(seconds)); },
  };
}
