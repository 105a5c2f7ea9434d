// The dashboard's conversion funnel and trends (GET /v1/admin/stats: "funnel" and "trends"), drawn
// as inline SVG. Every chart has a text alternative (its accessible name sums it up) and its numbers
// in a table under "Data". Numbers carry data-funnel / data-trend (path) and data-value (raw): what
// the browser tests compare with the stats.

const SVG = "http://www.w3.org/2000/svg";
const SVG_TAGS = new Set(["svg", "rect", "text", "g", "line", "polyline", "circle", "title"]);
const COLORS = ["#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#9d174d"];
const STEP_NAMES = {
  gallery_viewed: "Gallery viewed", style_chosen: "Style chosen", custom_started: "Custom started",
  photo_started: "Photo started", quota_reached: "Quota reached", upgrade_shown: "Upgrade shown",
  upgrade_clicked: "Upgrade clicked", avatar_chosen: "Avatar chosen",
};
const RATE_NAMES = {
  chose_avatar: "Chose an avatar (of gallery views)", started_custom: "Started a custom avatar (of gallery views)",
  started_photo: "Started from a photo (of gallery views)", reached_quota: "Reached the quota (of custom starts)",
  clicked_upgrade: "Clicked upgrade (of upgrade prompts)",
};

function h(tag, props = {}, ...children) {
  const el = SVG_TAGS.has(tag) ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

const pct = (n) => (typeof n === "number" ? `${(n * 100).toFixed(1)}%` : "–");
const usd = (n) => (typeof n === "number" ? `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 4 : 2)}` : "–");
const ms = (n) => (typeof n === "number" ? `${Math.round(n)} ms` : "–");
const count = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : "–");
const raw = (value) => (value === null || value === undefined ? "" : String(value));

// ---- the funnel ----------------------------------------------------------------------------------

export function showFunnel(target, funnel) {
  if (!funnel || !Array.isArray(funnel.days) || !funnel.days.length) {
    target.replaceChildren(h("p", { class: "muted", text: "No funnel numbers on this server." }));
    return;
  }
  const totals = funnel.totals.counts;
  const today = funnel.days[funnel.days.length - 1];
  const top = Math.max(1, ...funnel.steps.map((s) => totals[s] || 0));
  const width = 520;
  const row = 30;
  const label = 150;
  const description = funnel.steps.map((s) => `${STEP_NAMES[s] || s} ${totals[s] || 0}`).join(", ");
  const svg = h("svg", { viewBox: `0 0 ${width} ${funnel.steps.length * row + 4}`, role: "img", "aria-label": `Funnel, last ${funnel.days.length} days: ${description}` });
  funnel.steps.forEach((step, i) => {
    const y = i * row + 4;
    const value = totals[step] || 0;
    const bar = Math.max(2, ((width - label - 70) * value) / top);
    svg.append(
      h("text", { x: 0, y: y + 17, fill: "#111827", "font-size": 14, text: STEP_NAMES[step] || step }),
      h("rect", { x: label, y, width: bar, height: row - 10, rx: 3, fill: COLORS[0] }),
      h("text", { x: label + bar + 6, y: y + 17, fill: "#111827", "font-size": 14, text: count(value) }),
    );
  });
  const rates = h("dl", { class: "tiles" }, Object.entries(funnel.totals.conversion).map(([name, value]) =>
    h("div", { class: "tile" }, h("dt", { class: "muted small", text: RATE_NAMES[name] || name }),
      h("dd", { class: "value" }, h("span", { "data-funnel": `totals.conversion.${name}`, "data-value": raw(value), text: pct(value) })))));
  const th = (text, num) => h("th", { scope: "col", class: num ? "num" : null, text });
  const table = h("table", {},
    h("caption", { class: "muted small", text: "Each step today and over the last 30 days." }),
    h("thead", {}, h("tr", {}, th("Step"), th("Today", 1), th("Last 30 days", 1))),
    h("tbody", {}, funnel.steps.map((step) => h("tr", {}, h("th", { scope: "row", text: STEP_NAMES[step] || step }),
      h("td", { class: "num" }, h("span", { "data-funnel": `today.counts.${step}`, "data-value": raw(today.counts[step]), text: count(today.counts[step]) })),
      h("td", { class: "num" }, h("span", { "data-funnel": `totals.counts.${step}`, "data-value": raw(totals[step]), text: count(totals[step]) }))))));
  const daily = dataTable("Conversion per day", ["Day", ...Object.keys(funnel.totals.conversion).map((n) => RATE_NAMES[n] || n)],
    funnel.days.map((d) => [d.day, ...Object.values(d.conversion).map(pct)]));
  target.replaceChildren(h("figure", { class: "chart" }, h("h3", { text: `The last ${funnel.days.length} days` }), svg), rates, table, daily);
}

// ---- the trends ----------------------------------------------------------------------------------

function dataTable(title, headings, rows) {
  return h("details", { class: "data" }, h("summary", { text: `${title}: data` }),
    h("table", {}, h("thead", {}, h("tr", {}, headings.map((t, i) => h("th", { scope: "col", class: i ? "num" : null, text: t })))),
      h("tbody", {}, rows.map(([first, ...rest]) => h("tr", {}, h("th", { scope: "row", text: first }), rest.map((v) => h("td", { class: "num", text: v })))))));
}

// A chart over the series' points: stacked bars (``stack``) or lines, with an optional flat line (a budget).
function chart({ title, summary, points, series, kind, format, flat = null, flatLabel = "" }) {
  const width = 640;
  const height = 180;
  const left = 56;
  const bottom = 22;
  const values = points.map((_, i) => series.map((s) => s.values[i]));
  const totals = values.map((v) => (kind === "stack" ? v.reduce((a, b) => a + (b || 0), 0) : Math.max(0, ...v.map((x) => x || 0))));
  const top = Math.max(flat || 0, ...totals) || 1;
  const plotW = width - left - 8;
  const plotH = height - bottom - 8;
  const step = plotW / Math.max(1, points.length);
  const y = (v) => 8 + plotH - (plotH * v) / top;
  const svg = h("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: ${summary}` });
  svg.append(
    h("line", { x1: left, y1: y(0), x2: width - 8, y2: y(0), stroke: "#6b7280" }),
    h("text", { x: left - 6, y: y(top) + 5, fill: "#374151", "font-size": 12, "text-anchor": "end", text: format(top) }),
    h("text", { x: left - 6, y: y(0), fill: "#374151", "font-size": 12, "text-anchor": "end", text: format(0) }),
    h("text", { x: left, y: height - 4, fill: "#374151", "font-size": 12, text: points[0].period }),
    h("text", { x: width - 8, y: height - 4, fill: "#374151", "font-size": 12, "text-anchor": "end", text: points[points.length - 1].period }),
  );
  if (kind === "stack") {
    points.forEach((_, i) => {
      let base = 0;
      series.forEach((s, k) => {
        const v = s.values[i] || 0;
        if (v > 0) svg.append(h("rect", { x: left + i * step + 1, y: y(base + v), width: Math.max(1, step - 2), height: y(base) - y(base + v), fill: COLORS[k % COLORS.length] }));
        base += v;
      });
    });
  } else {
    series.forEach((s, k) => {
      const coords = s.values.map((v, i) => (typeof v === "number" ? `${left + i * step + step / 2},${y(v)}` : null)).filter(Boolean);
      if (coords.length > 1) svg.append(h("polyline", { points: coords.join(" "), fill: "none", stroke: COLORS[k % COLORS.length], "stroke-width": 2 }));
      if (coords.length === 1) {
        const [cx, cy] = coords[0].split(",");
        svg.append(h("circle", { cx, cy, r: 3, fill: COLORS[k % COLORS.length] }));
      }
    });
  }
  if (flat !== null) svg.append(h("line", { x1: left, y1: y(flat), x2: width - 8, y2: y(flat), stroke: "#be123c", "stroke-dasharray": "6 4" }));
  const legend = h("ul", { class: "legend muted small" },
    series.map((s, k) => h("li", {}, swatch(COLORS[k % COLORS.length]), s.name)),
    flat !== null ? h("li", {}, swatch("#be123c", true), flatLabel) : null);
  const table = dataTable(title, ["Period", ...series.map((s) => s.name)], points.map((p, i) => [p.period, ...series.map((s) => format(s.values[i]))]));
  return h("figure", { class: "chart trend" }, h("h3", { text: title }), svg, legend, table);
}

// A legend's colour sample (set through the CSSOM: the pages' policy refuses style attributes).
function swatch(color, dashed = false) {
  const el = h("span", { class: dashed ? "swatch dashed" : "swatch", "aria-hidden": "true" });
  el.style.borderColor = color;
  if (!dashed) el.style.backgroundColor = color;
  return el;
}

const keysOf = (points, field) => [...new Set(points.flatMap((p) => Object.keys(p[field] || {})))];

export function showTrends(picker, target, trends, state = { window: "days" }) {
  if (!trends || !trends.days || !trends.hours) {
    target.replaceChildren(h("p", { class: "muted", text: "No trends on this server." }));
    return;
  }
  const names = { days: "last 30 days", hours: "last 24 hours" };
  picker.replaceChildren(h("div", { class: "row", role: "group", "aria-label": "Trend window" },
    [["days", "Last 30 days"], ["hours", "Last 24 hours"]].map(([value, text]) =>
      h("button", { type: "button", class: value === state.window ? "primary" : "secondary", "aria-pressed": String(value === state.window), text,
        onclick: () => { state.window = value; showTrends(picker, target, trends, state); } }))));
  const series = trends[state.window];
  const points = series.points;
  const when = names[state.window];
  const tiers = keysOf(points, "generations");
  const generations = tiers.map((t) => ({ name: t, values: points.map((p) => p.generations[t] || 0) }));
  const total = generations.reduce((a, s) => a + s.values.reduce((x, y) => x + y, 0), 0);
  // The day's budget against each day's spend; over 24 hours, the spend so far since the window began.
  let running = 0;
  const spendValues = state.window === "days" ? points.map((p) => p.spend_usd) : points.map((p) => (running += p.spend_usd));
  const spent = points.reduce((a, p) => a + p.spend_usd, 0);
  const ratios = points.map((p) => p.cache_hit_ratio);
  const lastRatio = [...ratios].reverse().find((r) => typeof r === "number");
  const providers = keysOf(points, "p95_ms");
  const latency = providers.map((p) => ({ name: p, values: points.map((pt) => pt.p95_ms[p]) }));
  const reasons = keysOf(points, "refusals");
  const refusals = reasons.map((r) => ({ name: r, values: points.map((p) => p.refusals[r] || 0) }));
  const refused = refusals.reduce((a, s) => a + s.values.reduce((x, y) => x + y, 0), 0);
  target.replaceChildren(
    h("p", { class: "muted small" }, `${when}: `,
      h("span", { "data-trend": `${state.window}.generations`, "data-value": total, text: `${count(total)} generations` }), " · ",
      h("span", { "data-trend": `${state.window}.spend_usd`, "data-value": spent.toFixed(6), text: `${usd(spent)} spent` }), " · ",
      h("span", { "data-trend": `${state.window}.refusals`, "data-value": refused, text: `${count(refused)} refused` })),
    chart({ title: `Generations by tier, ${when}`, summary: `${total} in all; ${tiers.map((t, i) => `${t} ${generations[i].values.reduce((a, b) => a + b, 0)}`).join(", ")}`,
      points, series: generations, kind: "stack", format: count }),
    chart({ title: `Spend against the daily budget, ${when}`, summary: `${usd(spent)} spent; daily budget ${usd(series.daily_budget_usd)}`,
      points, series: [{ name: state.window === "days" ? "spend per day" : "spend since the window began", values: spendValues }], kind: "line", format: usd,
      flat: series.daily_budget_usd, flatLabel: `daily budget ${usd(series.daily_budget_usd)}` }),
    chart({ title: `Cache hit ratio, ${when}`, summary: `latest ${pct(lastRatio)}`, points, series: [{ name: "cache hit ratio", values: ratios }], kind: "line", format: pct }),
    chart({ title: `p95 latency per provider, ${when}`, summary: providers.map((p, i) => `${p} latest ${ms([...latency[i].values].reverse().find((v) => typeof v === "number"))}`).join(", ") || "no provider yet",
      points, series: latency, kind: "line", format: ms }),
    chart({ title: `Refusals, ${when}`, summary: `${refused} in all; ${reasons.map((r, i) => `${r} ${refusals[i].values.reduce((a, b) => a + b, 0)}`).join(", ")}`,
      points, series: refusals, kind: "stack", format: count }),
  );
}
