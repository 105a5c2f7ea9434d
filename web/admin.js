// The operators' dashboard over the admin API: GET /v1/admin/stats as tiles and inline SVG charts,
// the API keys (issue, shown once, revoke) and "refresh gallery". The admin token lives in this
// module's memory only (never in storage, a cookie or the URL).
import { config } from "./config.js";
import { showFunnel, showTrends } from "./admin-trends.js";

const api = (config.apiBase || window.location.origin).replace(/\/+$/, "");
const $ = (id) => document.getElementById(id);
let adminToken = null;
let stats = null;
let period = "today";
const trendState = { window: "days" };

function h(tag, props = {}, ...children) {
  const svg = ["svg", "rect", "text", "g", "line", "title"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

const usd = (n) => (typeof n === "number" ? `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 4 : 2)}` : "–");
const pct = (n) => (typeof n === "number" ? `${(n * 100).toFixed(1)}%` : "–");
const ms = (n) => (typeof n === "number" ? `${Math.round(n)} ms` : "–");
const count = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : "–");
const sum = (o) => Object.values(o || {}).reduce((a, b) => a + (typeof b === "number" ? b : 0), 0);

// A number shown with where it came from (data-stat) and its raw value (data-value): what the
// browser tests compare with GET /v1/admin/stats.
function stat(path, value, format) {
  return h("span", { "data-stat": path, "data-value": value === null || value === undefined ? "" : String(value), text: format(value) });
}

async function call(path, options = {}) {
  const headers = { Authorization: `Bearer ${adminToken}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(api + path, { method: options.method || "GET", headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  } catch (error) {
    return { ok: false, status: 0, body: { error: { message: "The API could not be reached." } } };
  }
  let body = null;
  try {
    body = response.status === 204 ? null : await response.json();
  } catch (error) {
    body = null;
  }
  return { ok: response.ok, status: response.status, body };
}

const errorText = (answer) => (answer.body && answer.body.error && answer.body.error.message) || `The API answered ${answer.status}.`;

// ---- signing in ----------------------------------------------------------------------------------

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  adminToken = $("admin-token").value.trim();
  const answer = await call("/v1/admin/stats");
  if (!answer.ok) {
    adminToken = null;
    const disabled = /not set/.test(errorText(answer)); // the server has no admin token at all
    $("login-error").textContent = disabled
      ? "The admin API is off on this server: set AVATARFLOW_ADMIN_TOKEN and restart it."
      : answer.status === 401 || answer.status === 403 ? "That token was refused." : errorText(answer);
    return;
  }
  $("admin-token").value = "";
  $("login").hidden = true;
  $("dashboard").hidden = false;
  showStats(answer.body);
  loadKeys();
  $("overview-title").setAttribute("tabindex", "-1");
  $("overview-title").focus();
});

$("reload").addEventListener("click", async () => {
  const answer = await call("/v1/admin/stats");
  if (answer.ok) {
    showStats(answer.body);
    $("status").textContent = `Numbers as of ${new Date(answer.body.generated_at).toLocaleTimeString()}.`;
  } else $("status").textContent = errorText(answer);
});

$("refresh-gallery").addEventListener("click", async () => {
  $("status").textContent = "Refreshing the gallery…";
  const answer = await call("/v1/admin/gallery/refresh", { method: "POST" });
  if (!answer.ok) {
    $("status").textContent = errorText(answer);
    return;
  }
  const b = answer.body || {};
  const added = sum(b.added);
  $("status").textContent = `Gallery refresh: ${b.status || "started"}${added ? `, ${added} new items` : ""}${typeof b.total === "number" ? `, ${b.total} in the gallery` : ""}.`;
});

// ---- the numbers ---------------------------------------------------------------------------------

function showStats(body) {
  stats = body;
  const { today, month, budget } = body;
  const tile = (title, ...content) => h("div", { class: "tile" }, h("h3", { text: title }), ...content);
  const meter = (ratio) => {
    const fill = h("div");
    fill.style.width = `${Math.min(100, Math.max(0, (ratio || 0) * 100))}%`;
    return h("div", { class: "meter", "aria-hidden": "true" }, fill);
  };
  const badge = (path, state) => h("span", { class: `state state-${state}`, "data-stat": path, "data-value": state, text: state });
  $("tiles").replaceChildren(
    tile("Generations today", h("p", { class: "value" }, stat("today.generations.finished", sum(today.generations.by_status), count)),
      h("p", { class: "muted small" }, "this month: ", stat("month.generations.finished", sum(month.generations.by_status), count))),
    tile("Spend today", h("p", { class: "value" }, stat("budget.daily.spent_usd", budget.daily.spent_usd, usd)),
      h("p", { class: "muted small" }, "of ", stat("budget.daily.limit_usd", budget.daily.limit_usd, usd), " daily budget · ", badge("budget.daily.state", budget.daily.state)),
      meter(budget.daily.ratio)),
    tile("Spend this month", h("p", { class: "value" }, stat("budget.monthly.spent_usd", budget.monthly.spent_usd, usd)),
      h("p", { class: "muted small" }, "of ", stat("budget.monthly.limit_usd", budget.monthly.limit_usd, usd), " monthly budget · ", badge("budget.monthly.state", budget.monthly.state)),
      meter(budget.monthly.ratio)),
    tile("Budget state", h("p", { class: "value" }, badge("budget.state", budget.state)),
      h("p", { class: "muted small", text: `Premium and enterprise stop at ${budget.hard_cap_ratio}× the budget.` })),
    tile("Cache hit ratio today", h("p", { class: "value" }, stat("today.cache_hit_ratio", today.cache_hit_ratio, pct)),
      h("p", { class: "muted small" }, "this month: ", stat("month.cache_hit_ratio", month.cache_hit_ratio, pct))),
  );
  showCharts();
  showFunnel($("funnel"), body.funnel);
  showTrends($("trends-window"), $("trends"), body.trends, trendState);
  showProviders();
  showProjection(body.projection);
  showExperiments(body.experiments);
}

function barChart(title, path, data) {
  const entries = Object.entries(data || {}).sort((a, b) => b[1] - a[1]);
  const row = 30;
  const labelWidth = 16 + 8 * Math.max(6, ...entries.map(([k]) => k.length)); // ~8 px a character at 14 px
  const width = labelWidth + 260;
  const max = Math.max(1, ...entries.map(([, v]) => v));
  const description = entries.length ? entries.map(([k, v]) => `${k} ${v}`).join(", ") : "none yet";
  const svg = h("svg", { viewBox: `0 0 ${width} ${Math.max(1, entries.length) * row + 4}`, role: "img", "aria-label": `${title}: ${description}` });
  if (!entries.length) svg.append(h("text", { x: 0, y: 20, fill: "#4b5563", "font-size": 14, text: "No generations yet." }));
  entries.forEach(([key, value], i) => {
    const y = i * row + 4;
    const barWidth = ((width - labelWidth - 60) * value) / max;
    svg.append(
      h("text", { x: 0, y: y + 17, fill: "#111827", "font-size": 14, text: key }),
      h("rect", { x: labelWidth, y, width: Math.max(2, barWidth), height: row - 10, rx: 3, fill: "#1d4ed8" }),
      h("text", { x: labelWidth + Math.max(2, barWidth) + 6, y: y + 17, fill: "#111827", "font-size": 14, "data-stat": `${path}.${key}`, "data-value": value, text: count(value) }),
    );
  });
  return h("figure", { class: "chart" }, h("h3", { text: title }), svg);
}

function showCharts() {
  const p = stats[period];
  const label = period === "today" ? "today" : "this month";
  const picker = h("div", { class: "row", role: "group", "aria-label": "Period" },
    ...[["today", "Today"], ["month", "This month"]].map(([value, text]) =>
      h("button", { type: "button", class: value === period ? "primary" : "secondary", "aria-pressed": String(value === period), text,
        onclick: () => { period = value; showCharts(); } })));
  $("period").replaceChildren(picker);
  $("charts").replaceChildren(
    barChart(`By status, ${label}`, `${period}.generations.by_status`, p.generations.by_status),
    barChart(`By tier, ${label}`, `${period}.generations.by_tier`, p.generations.by_tier),
    barChart(`By provider, ${label}`, `${period}.generations.by_provider`, p.generations.by_provider),
    barChart(`Requests, ${label}`, `${period}.admissions`, p.admissions),
  );
}

function showProviders() {
  const { today, month } = stats;
  const names = [...new Set([...Object.keys(today.providers), ...Object.keys(month.providers), ...Object.keys(month.spend.by_provider)])].sort();
  if (!names.length) {
    $("providers").replaceChildren(h("p", { class: "muted", text: "No provider has been called yet." }));
    return;
  }
  const th = (text, num) => h("th", { scope: "col", class: num ? "num" : null, text });
  const td = (content) => h("td", { class: "num" }, content);
  $("providers").replaceChildren(
    h("table", {},
      h("caption", { class: "muted small", text: "Today's latency and errors; spend today and this month." }),
      h("thead", {}, h("tr", {}, th("Provider"), th("Succeeded", 1), th("Errors", 1), th("Error rate", 1), th("p50", 1), th("p95", 1), th("Spend today", 1), th("Spend month", 1))),
      h("tbody", {}, names.map((name) => {
        const s = today.providers[name] || { succeeded: 0, errors: 0, error_rate: null, latency: { p50_ms: null, p95_ms: null } };
        const base = `today.providers.${name}`;
        return h("tr", {}, h("th", { scope: "row", text: name }),
          td(stat(`${base}.succeeded`, s.succeeded, count)), td(stat(`${base}.errors`, s.errors, count)),
          td(stat(`${base}.error_rate`, s.error_rate, pct)), td(stat(`${base}.latency.p50_ms`, s.latency.p50_ms, ms)),
          td(stat(`${base}.latency.p95_ms`, s.latency.p95_ms, ms)),
          td(stat(`today.spend.by_provider.${name}`, today.spend.by_provider[name] ?? 0, usd)),
          td(stat(`month.spend.by_provider.${name}`, month.spend.by_provider[name] ?? 0, usd)));
      }))),
  );
}

// Optional parts of the stats (absent on older servers): shown only when present, generically.
function plain(key, value) {
  if (value === null || value === undefined) return "–";
  if (Array.isArray(value)) return value.length === 2 && value.every((v) => typeof v === "number") && /(^|_)(rate|ci95)($|_)/.test(key) ? `${pct(value[0])} – ${pct(value[1])}` : value.join(", ");
  if (typeof value !== "number") return String(value);
  if (/usd/.test(key)) return usd(value);
  if (/(^|_)(rate|share|ratio)($|_)/.test(key)) return pct(value);  // not "generations"
  if (/_ms$/.test(key)) return ms(value);
  return count(value);
}
const humanize = (key) => key.replace(/_/g, " ").replace(/\busd\b/, "(USD)").replace(/\bci95\b/, "95% interval").replace(/^./, (c) => c.toUpperCase());

function showProjection(projection) {
  const section = $("projection");
  if (!projection || typeof projection !== "object") {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  $("projection-body").replaceChildren(
    h("dl", { class: "tiles" }, Object.entries(projection).map(([key, value]) =>
      h("div", { class: "tile" }, h("dt", { class: "muted small", text: humanize(key) }),
        h("dd", { class: "value" }, h("span", { "data-stat": `projection.${key}`, "data-value": value === null ? "" : String(value), text: key === "runs_out_on" && value === null ? "not this month" : plain(key, value) }))))),
  );
}

function showExperiments(experiments) {
  const section = $("experiments");
  if (!experiments || typeof experiments !== "object" || !Object.keys(experiments).length) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  $("experiments-body").replaceChildren(...Object.entries(experiments).map(([name, experiment]) => {
    const arms = Array.isArray(experiment && experiment.arms) ? experiment.arms : [];
    const columns = [...new Set(arms.flatMap((arm) => Object.keys(arm)))].filter((c) => c !== "arm");
    return h("div", {},
      h("h3", { text: `${name}${typeof experiment.share === "number" ? ` (${pct(experiment.share)} of traffic)` : ""}` }),
      h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Arm" }), columns.map((c) => h("th", { scope: "col", class: "num", text: humanize(c) })))),
        h("tbody", {}, arms.map((arm) => h("tr", {}, h("th", { scope: "row", text: String(arm.arm) }),
          columns.map((c) => h("td", { class: "num", "data-stat": `experiments.${name}.${arm.arm}.${c}`, text: plain(c, arm[c]) })))))));
  }));
}

// ---- API keys ------------------------------------------------------------------------------------

async function loadKeys() {
  const answer = await call("/v1/admin/api-keys");
  if (!answer.ok) {
    $("keys").replaceChildren(h("p", { class: "error", text: errorText(answer) }));
    return;
  }
  const items = answer.body.items;
  if (!items.length) {
    $("keys").replaceChildren(h("p", { class: "muted", text: "No API keys yet." }));
    return;
  }
  $("keys").replaceChildren(
    h("table", {},
      h("thead", {}, h("tr", {}, ["Name", "Key starts with", "Tier", "Created", "State", ""].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, items.map((key) => h("tr", { "data-key-id": key.id },
        h("th", { scope: "row", text: key.name }), h("td", {}, h("code", { text: `${key.prefix}…` })), h("td", { text: key.tier }),
        h("td", { text: new Date(key.created_at).toLocaleString() }), h("td", { text: key.revoked ? "revoked" : "active" }),
        h("td", {}, key.revoked ? "" : h("button", { type: "button", class: "danger", "aria-label": `Revoke ${key.name}`, text: "Revoke", onclick: () => revoke(key) })))))),
  );
}

async function revoke(key) {
  const answer = await call(`/v1/admin/api-keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
  $("status").textContent = answer.ok ? `Revoked ${key.name}.` : errorText(answer);
  loadKeys();
}

$("issue-key").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("key-name").value.trim();
  const answer = await call("/v1/admin/api-keys", { method: "POST", body: { name, tier: "enterprise" } });
  const box = $("new-key");
  box.hidden = false;
  if (!answer.ok) {
    box.replaceChildren(h("p", { class: "error", text: errorText(answer) }));
    return;
  }
  $("key-name").value = "";
  box.replaceChildren(
    h("p", {}, h("strong", { text: `Key for ${name}` }), " — copy it now: it is shown only once."),
    h("p", { class: "secret", "data-new-key": "", text: answer.body.key }),
    h("p", { class: "muted small", text: "Its webhook signing secret:" }),
    h("p", { class: "secret", text: answer.body.webhook_secret }),
    h("button", { type: "button", class: "secondary", text: "Done, hide it", onclick: () => { box.hidden = true; box.replaceChildren(); } }),
  );
  loadKeys();
});
