// Bytes per day as bars, drawn as SVG by the console itself (no chart library to fetch or
// serve): the dashboard's last two weeks and the statistics page's span.
import { h, bytes, svg } from "./dom.js";

/** Processed and transferred bytes per day; every day is labelled when few, else about ten. */
export function dailyChart(days, empty) {
  const width = 700, height = 180, bottom = 150, slot = Math.min(60, width / Math.max(days.length, 1));
  const every = Math.max(1, Math.ceil(days.length / 10));
  const top = Math.max(1, ...days.map((d) => Number(d.processed_bytes) || 0));
  const picture = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "Bytes processed and transferred per day" });
  days.forEach((day, index) => {
    const x = index * slot + 4, bar = Math.max(1, slot / 2 - 4);
    const processed = ((Number(day.processed_bytes) || 0) / top) * (bottom - 10);
    const transferred = ((Number(day.transferred_bytes) || 0) / top) * (bottom - 10);
    const read = svg("rect", { class: "processed", x, y: bottom - processed, width: bar, height: processed });
    read.append(svg("title", {}, `${day.day}: ${bytes(day.processed_bytes)} processed`));
    const sent = svg("rect", { class: "transferred", x: x + bar, y: bottom - transferred, width: bar, height: transferred });
    sent.append(svg("title", {}, `${day.day}: ${bytes(day.transferred_bytes)} transferred`));
    picture.append(read, sent);
    if (index % every === 0) picture.append(svg("text", { x, y: height - 12 }, String(day.day).slice(5)));
  });
  const legend = h("p", { class: "muted" }, "Bars: processed (blue) and transferred (green) per day.");
  return h("div", { class: "card" }, days.length ? picture : h("p", { class: "muted" }, empty), legend);
}
