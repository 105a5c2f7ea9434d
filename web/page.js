// The reference page: <avatarflow-picker> on a sample profile page, a "Sign in as" control (the
// local stage's POST /v1/dev/token), the user's history and their stable avatar URL.
import { config } from "./config.js";
import "./picker.js";

const api = (config.apiBase || window.location.origin).replace(/\/+$/, "");
const $ = (id) => document.getElementById(id);
const picker = $("picker");
const state = { tier: "anonymous", sub: null, token: null };
const TIER_LABELS = { free: "Free", premium: "Premium", enterprise: "Enterprise" };

picker.setAttribute("api-base", api);
picker.tokenGetter = () => state.token;

// One made-up user per tier for this browser tab, so that a reload keeps the same profile.
function subFor(tier) {
  const key = `avatarflow-demo-user-${tier}`;
  let sub = sessionStorage.getItem(key);
  if (!sub) {
    sub = `${tier}-reader-${Math.random().toString(36).slice(2, 8)}`;
    sessionStorage.setItem(key, sub);
  }
  return sub;
}

async function call(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(api + path, { ...options, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  return { ok: response.ok, status: response.status, body };
}

async function signIn(tier) {
  state.tier = tier;
  if (tier === "anonymous") {
    state.sub = null;
    state.token = null;
  } else {
    const sub = subFor(tier);
    const answer = await call("/v1/dev/token", { method: "POST", body: { sub, tier } });
    if (!answer.ok) {
      $("who").textContent = answer.status === 404
        ? "Signing in as a sample user works on the local stage only; here you browse as a visitor."
        : "Signing in failed; you browse as a visitor.";
      $("signin-as").value = "anonymous";
      state.tier = "anonymous";
      state.sub = null;
      state.token = null;
      afterSignIn(false);
      return;
    }
    state.sub = sub;
    state.token = answer.body.token;
  }
  afterSignIn(true);
}

function afterSignIn(announce) {
  if (announce) {
    $("who").textContent = state.sub
      ? `Signed in as ${state.sub} (${TIER_LABELS[state.tier]} plan).`
      : "Browsing as an anonymous visitor.";
  }
  const urlPart = $("avatar-url-part");
  if (state.sub) {
    $("avatar-url").value = `${api}/v1/avatars/${encodeURIComponent(state.sub)}`;
    urlPart.hidden = false;
  } else {
    urlPart.hidden = true;
  }
  $("copy-status").textContent = "";
  showProfileAvatar();
  picker.refresh();
  loadHistory();
}

function showProfileAvatar(bust = false) {
  const img = $("profile-avatar");
  if (!state.sub) {
    img.src = "/web/icon.svg";
    return;
  }
  // The stable URL (a 302 cached for 5 minutes): a fresh query after a new choice.
  img.src = `${api}/v1/avatars/${encodeURIComponent(state.sub)}?size=256${bust ? `&t=${Date.now()}` : ""}`;
}

let historyRun = 0;

async function loadHistory() {
  const list = $("history");
  const run = ++historyRun;
  const answer = await call("/v1/generations?limit=12");
  if (run !== historyRun) return; // asked again since (another user signed in)
  const items = answer.ok ? answer.body.items : [];
  list.replaceChildren(
    ...items.map((g) => {
      const li = document.createElement("li");
      if (g.images && g.images["128"]) {
        const img = document.createElement("img");
        img.src = g.images["128"];
        img.width = 64;
        img.height = 64;
        img.alt = `Custom ${g.style} avatar${g.prompt ? `: ${g.prompt}` : ""}`;
        li.append(img);
      }
      const text = document.createElement("div");
      const title = document.createElement("p");
      title.textContent = g.prompt || `${g.style} avatar`;
      const meta = document.createElement("p");
      meta.className = "muted small";
      meta.textContent = `${g.style} · ${g.quality} · ${g.size} px · ${g.status}${g.cached ? " (instant)" : ""} · ${new Date(g.created_at).toLocaleString()}`;
      text.append(title, meta);
      li.append(text);
      return li;
    }),
  );
  $("history-empty").hidden = items.length > 0;
}

async function copyUrl() {
  const input = $("avatar-url");
  try {
    await navigator.clipboard.writeText(input.value);
  } catch (error) {
    input.select(); // where the clipboard API is refused: select it for Ctrl+C
    document.execCommand && document.execCommand("copy");
  }
  $("copy-status").textContent = "Copied to the clipboard.";
}

picker.addEventListener("avatar-selected", (event) => {
  if (event.detail.saved) showProfileAvatar(true);
  else if (event.detail.images && event.detail.images["256"]) $("profile-avatar").src = event.detail.images["256"];
});
picker.addEventListener("generation-finished", () => loadHistory());
picker.addEventListener("upgrade-requested", () => {
  $("signin-as").value = "premium";
  signIn("premium");
  $("who").textContent = `Upgraded: signed in as ${subFor("premium")} (Premium plan, a sample).`;
});
$("signin-as").addEventListener("change", (event) => signIn(event.target.value));
$("signin").addEventListener("submit", (event) => event.preventDefault());
$("copy-url").addEventListener("click", copyUrl);

const asked = new URLSearchParams(window.location.search).get("as");
if (asked && ["free", "premium", "enterprise"].includes(asked)) {
  $("signin-as").value = asked;
  signIn(asked);
} else {
  loadHistory();
}
