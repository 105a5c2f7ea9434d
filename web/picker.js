// <avatarflow-picker>: the embeddable avatar picker (a custom element; no framework needed).
//
//   <script type="module" src="https://cdn.example.com/avatarflow/picker.js"></script>
//   <avatarflow-picker api-base="https://api.example.com" token-getter="getAvatarflowToken"
//                      upgrade-url="/pricing"></avatarflow-picker>
//
// Attributes: api-base (where /v1/... is served; default: this page's origin), token-getter (the name
// of a global function returning the user's JWT, or a promise of it; none = an anonymous visitor),
// page-size (gallery items per page, default 24), upgrade-url (where the upgrade prompt links),
// gallery-src (gallery-only mode: a static gallery index, ./static-gallery.js; no API call at all).
// The conversion funnel's events go to POST /v1/events, batched (./funnel.js).
// Properties: tokenGetter (a function, instead of the attribute); refresh() reloads for a new user.
// Events (bubbling, composed): "avatar-selected" {source, id, images, saved}, "generation-finished"
// {generation}, "upgrade-requested" {tier}.
// The gallery shows at once; "Generate" asks for a custom avatar and follows it over the WebSocket
// (polling where there is none: ./realtime.js); 429/503/failures offer pre-made suggestions.
// A visitor's choice ("saved": false) is kept when the host signs them in and calls refresh().

import { PhotoPart } from "./photo.js";
import { watchGeneration } from "./realtime.js";
import { Funnel } from "./funnel.js";
import { loadIndex, staticAnswer } from "./static-gallery.js";

const QUALITY_NAMES = { fast: "Fast", standard: "Standard", pro: "Pro" };
const WAIT_SECONDS = 1; // answer at once when the avatar is that quick; else follow its progress
const SUGGESTION_LIMIT = 6;
const TIER_NAMES = { anonymous: "visitor", free: "Free", premium: "Premium", enterprise: "Enterprise" };

// A tiny DOM builder: text is always set as text (nothing a server sends becomes markup).
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (key in el && !key.includes("-") && key !== "list") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

function titleCase(text) {
  return String(text).charAt(0).toUpperCase() + String(text).slice(1);
}

export function srcsetOf(images, sizes) {
  return sizes.filter((s) => images && images[s]).map((s) => `${images[s]} ${s}w`).join(", ");
}

// A similar result's label: its prompt only where the API gives one (the caller's own request;
// another user's words are never sent), else how close it is.
export function similarLabel(similar, style) {
  if (typeof similar.prompt === "string" && similar.prompt) return `Instant ${style} match: ${similar.prompt}`;
  const score = Number(similar.score);
  return Number.isFinite(score) ? `Instant ${style} match, ${Math.round(score * 100)}% similar` : `Instant ${style} match`;
}

// The tightest window's remaining generations, or null when the tier has no limit.
export function quotaLeft(quota) {
  const limited = (quota && quota.limits ? quota.limits : []).filter((w) => w.limit !== null && w.remaining !== null);
  if (!limited.length) return null;
  return limited.reduce((tightest, w) => (w.remaining < tightest.remaining ? w : tightest));
}

export class AvatarflowPicker extends HTMLElement {
  constructor() {
    super();
    this.tokenGetter = null;
    this._styles = [];
    this._quota = null;
    this._cursor = undefined; // undefined: not loaded yet; null: no more pages
    this._loading = false;
    this._galleryRun = 0;
    this._watch = null;
    this._generation = null;
    this._tags = new Set();
    this._selectedId = null;
    this._pending = null; // a visitor's choice, kept once they sign in
    this._funnel = null;
  }

  get galleryOnly() {
    return this.hasAttribute("gallery-src");
  }

  // One step of the conversion funnel (none in gallery-only mode: there is no API to tell). ``once``:
  // a state seen again (the quota read after each generation) counts once per page view.
  _track(name, { once = false } = {}) {
    if (this.galleryOnly) return;
    this._tracked = this._tracked || new Set();
    if (once && this._tracked.has(name)) return;
    this._tracked.add(name);
    if (!this._funnel) this._funnel = new Funnel((events, { keepalive }) => (keepalive ? this._sendNow(events) : this._api("/v1/events", { method: "POST", body: { events } })));
    this._funnel.track(name);
  }

  get apiBase() {
    return (this.getAttribute("api-base") || window.location.origin).replace(/\/+$/, "");
  }

  get pageSize() {
    const n = Number(this.getAttribute("page-size"));
    return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 24;
  }

  connectedCallback() {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: "open" });
    root.append(h("link", { rel: "stylesheet", href: new URL("./picker.css", import.meta.url).href }));
    root.append(this._build());
    this._observer = "IntersectionObserver" in window
      ? new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && this._loadMore(), { rootMargin: "200px" })
      : null;
    if (this._observer) this._observer.observe(this._els.sentinel);
    // The gallery first: its images go out before the style previews (which then name its items).
    const gallery = this._loadGallery();
    if (!this.galleryOnly) this._loadQuota();
    this._stylesReady = gallery.finally(() => this._loadStyles());
  }

  disconnectedCallback() {
    if (this._watch) this._watch.stop();
    if (this._observer) this._observer.disconnect();
    if (this._funnel) this._funnel.flush({ keepalive: true });
  }

  // The host signed someone else in (or out): start over for them.
  refresh() {
    if (!this.shadowRoot) return;
    if (this._watch) this._watch.stop();
    this._watch = null;
    this._selectedId = null;
    this._hide(this._els.progress, this._els.result, this._els.suggestions);
    this._say("");
    this._loadQuota();
    this._markSelected();
    if (this._pending) this._keepPending();
  }

  // ---- building --------------------------------------------------------------------------------

  _build() {
    const els = (this._els = {});
    els.styleFilter = h("select", { id: "af-gallery-style", onchange: () => { if (els.styleFilter.value) this._track("style_chosen"); this._loadGallery(); } }, h("option", { value: "", text: "All styles" }));
    els.tagFilter = h("select", { id: "af-gallery-tag", onchange: () => this._loadGallery() }, h("option", { value: "", text: "All tags" }));
    els.grid = h("ul", { class: "grid", "aria-label": "Gallery" });
    els.sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
    els.more = h("button", { type: "button", class: "secondary", text: "More avatars", onclick: () => this._loadMore() });
    els.galleryStatus = h("p", { class: "muted", role: "status" });

    els.quota = h("section", { class: "quota", role: "region", "aria-label": "Quota" }, h("p", { class: "muted", text: "Checking your custom avatars…" }));
    els.styleGroup = h("div", { class: "styles", role: "radiogroup", "aria-labelledby": "af-style-label", onchange: () => this._track("style_chosen") });
    els.prompt = h("input", { id: "af-prompt", type: "text", maxLength: 300, autocomplete: "off", placeholder: "e.g. a fox in a green hoodie", "aria-describedby": "af-prompt-hint" });
    els.quality = h("select", { id: "af-quality" });
    els.size = h("select", { id: "af-size" });
    els.generate = h("button", { type: "submit", class: "primary", text: "Generate" });
    els.bar = h("div", { class: "bar", role: "progressbar", "aria-label": "Generation progress", "aria-valuemin": 0, "aria-valuemax": 100 }, h("div", { class: "fill" }));
    els.progressMessage = h("p", { class: "progress-message", role: "status", "aria-live": "polite" });
    els.progress = h("div", { class: "progress", hidden: true }, els.bar, els.progressMessage);
    els.result = h("section", { class: "result", role: "region", "aria-label": "Result", hidden: true });
    els.suggestions = h("section", { class: "suggestions", role: "region", "aria-label": "Suggestions", hidden: true });
    els.message = h("p", { class: "message", role: "alert" });
    // "Use my photo" (./photo.js): with a ready photo, Generate makes an avatar of its face.
    this._photo = new PhotoPart({ api: (path, options) => this._api(path, options) });

    const form = h(
      "form",
      { class: "generate", onsubmit: (event) => { event.preventDefault(); this._generate(); } },
      h("h3", { text: "Or make your own" }),
      h("div", { class: "field" }, h("label", { for: "af-prompt", text: "Prompt (optional)" }), els.prompt,
        h("p", { id: "af-prompt-hint", class: "muted small", text: "Describe yourself in a few words; up to 300 characters." })),
      this._photo.element,
      h("div", { class: "field" }, h("span", { id: "af-style-label", class: "label", text: "Style" }), els.styleGroup),
      h("div", { class: "row" },
        h("div", { class: "field" }, h("label", { for: "af-quality", text: "Quality" }), els.quality),
        h("div", { class: "field" }, h("label", { for: "af-size", text: "Size" }), els.size)),
      h("div", { class: "actions" }, els.generate, h("span", { class: "muted small", text: "Usually ready in about 5 seconds." })),
      els.progress,
    );

    return h(
      "div",
      { class: "picker" },
      h("section", { class: "gallery-part", "aria-labelledby": "af-gallery-title" },
        h("h3", { id: "af-gallery-title", text: "Pick a ready-made avatar" }),
        h("div", { class: "row filters" },
          h("div", { class: "field" }, h("label", { for: "af-gallery-style", text: "Gallery style" }), els.styleFilter),
          h("div", { class: "field" }, h("label", { for: "af-gallery-tag", text: "Tag" }), els.tagFilter)),
        els.grid, els.sentinel, h("div", { class: "more" }, els.more, els.galleryStatus)),
      h("section", { class: "custom-part", "aria-label": "Custom avatar", hidden: this.galleryOnly }, els.quota, form, els.message, els.result, els.suggestions),
    );
  }

  // ---- talking to the API ----------------------------------------------------------------------

  async _token() {
    let getter = this.tokenGetter;
    const name = this.getAttribute("token-getter");
    if (!getter && name && typeof window[name] === "function") getter = window[name];
    if (!getter) return null;
    try {
      return (await getter()) || null;
    } catch (error) {
      return null;
    }
  }

  // The last batch as the page goes away: sent synchronously (no await before fetch, or the page is
  // gone first), with the credentials of the last call.
  _sendNow(events) {
    const headers = { "Content-Type": "application/json" };
    if (this._lastToken) headers.Authorization = `Bearer ${this._lastToken}`;
    return fetch(`${this.apiBase}/v1/events`, { method: "POST", headers, body: JSON.stringify({ events }), keepalive: true });
  }

  async _api(path, { method = "GET", body, headers = {} } = {}) {
    if (this.galleryOnly) {
      const src = this.getAttribute("gallery-src");
      try {
        return staticAnswer(await loadIndex(src), new URL(src, document.baseURI).href, path, { method, body });
      } catch (error) {
        return { ok: false, status: 0, body: { error: { code: "network", message: "The gallery could not be loaded." } }, token: null };
      }
    }
    const token = await this._token();
    this._lastToken = token;
    const sent = { ...headers };
    if (token) sent.Authorization = `Bearer ${token}`;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(this.apiBase + path, { method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      return { ok: false, status: 0, body: { error: { code: "network", message: "We could not reach the avatar service. Check your connection and try again." } }, token };
    }
    let parsed = null;
    try {
      parsed = await response.json();
    } catch (error) {
      parsed = null;
    }
    return { ok: response.ok, status: response.status, body: parsed, headers: response.headers, token };
  }

  // ---- gallery ---------------------------------------------------------------------------------

  _loadGallery() {
    this._galleryRun += 1;
    this._cursor = undefined;
    this._loading = false;
    this._els.grid.replaceChildren();
    return this._loadMore();
  }

  async _loadMore() {
    if (this._loading || this._cursor === null) return;
    this._loading = true;
    const run = this._galleryRun;
    const params = new URLSearchParams({ limit: String(this.pageSize) });
    if (this._els.styleFilter.value) params.set("style", this._els.styleFilter.value);
    if (this._els.tagFilter.value) params.set("tag", this._els.tagFilter.value);
    if (this._cursor) params.set("cursor", this._cursor);
    this._els.galleryStatus.textContent = "Loading avatars…";
    const answer = await this._api(`/v1/gallery?${params}`);
    if (run !== this._galleryRun) return; // a newer filter took over
    this._loading = false;
    if (!answer.ok) {
      this._els.galleryStatus.textContent = "The gallery could not be loaded. Try again in a moment.";
      return;
    }
    const first = this._cursor === undefined;
    if (first && !this._galleryViewed) {
      this._galleryViewed = true;
      this._track("gallery_viewed");
    }
    this._cursor = answer.body.next_cursor || null;
    for (const item of answer.body.items) this._els.grid.append(h("li", {}, this._itemButton(item, first)));
    this._addTags(answer.body.items);
    const shown = this._els.grid.children.length;
    this._els.more.hidden = this._cursor === null;
    this._els.galleryStatus.textContent = shown ? `${shown} avatars shown${this._cursor === null ? "" : "; more below"}.` : "No avatars match these filters.";
    this._markSelected();
    // A tall screen may show the end of the list at once: keep filling it.
    if (this._cursor && this._observer && this._isVisible(this._els.sentinel)) this._loadMore();
  }

  _isVisible(el) {
    const box = el.getBoundingClientRect();
    return box.top < window.innerHeight + 200 && box.bottom > -200;
  }

  _styleName(id) {
    const style = this._styles.find((s) => s.id === id);
    return style ? style.name : titleCase(id);
  }

  _itemButton(item, eager) {
    const button = h(
      "button",
      { type: "button", class: "item", "data-id": item.id, "data-style": item.style, "aria-pressed": "false", onclick: () => this._choose({ gallery_id: item.id }, item.images) },
      h("img", {
        src: item.images["128"],
        srcset: srcsetOf(item.images, ["128", "256"]),
        sizes: "(min-width: 40em) 112px, 88px",
        width: 112,
        height: 112,
        alt: "",
        loading: eager ? "eager" : "lazy",
        fetchpriority: eager ? "high" : null,
        decoding: "async",
      }),
    );
    button.item = item;
    this._name(button, item);
    return button;
  }

  // The image's alt text names the button: its style, two tags and who made it.
  _name(button, item) {
    const by = item.attribution ? ` by ${item.attribution.name}` : "";
    const tags = item.tags.filter((t) => t !== item.style).slice(0, 2);
    const name = `${this._styleName(item.style)} avatar${tags.length ? ` (${tags.join(", ")})` : ""}${by}`;
    button.title = name;
    button.firstChild.alt = name;
  }

  _addTags(items) {
    for (const item of items) {
      for (const tag of item.tags) {
        if (this._tags.has(tag)) continue;
        this._tags.add(tag);
        this._els.tagFilter.append(h("option", { value: tag, text: tag }));
      }
    }
  }

  _markSelected() {
    for (const button of this.shadowRoot.querySelectorAll("button.item")) {
      button.setAttribute("aria-pressed", String(button.dataset.id === this._selectedId));
    }
  }

  // ---- styles and quota ------------------------------------------------------------------------

  async _loadStyles() {
    const answer = await this._api("/v1/styles");
    if (!answer.ok) return;
    this._styles = answer.body.styles;
    const group = this._els.styleGroup;
    group.replaceChildren();
    this._styles.forEach((style, index) => {
      const id = `af-style-${style.id}`;
      group.append(
        h("label", { class: "style", for: id },
          h("input", { type: "radio", name: "af-style", id, value: style.id, checked: index === 0 }),
          style.preview_url ? h("img", { src: style.preview_url, alt: "", width: 48, height: 48, loading: "lazy", fetchpriority: "low", decoding: "async" }) : null,
          h("span", { text: style.name })),
      );
      this._els.styleFilter.append(h("option", { value: style.id, text: style.name }));
    });
    // Names for the items drawn before the style list came.
    for (const button of this.shadowRoot.querySelectorAll("button.item")) if (button.item) this._name(button, button.item);
  }

  async _loadQuota() {
    const run = (this._quotaRun = (this._quotaRun || 0) + 1);
    const answer = await this._api("/v1/me/quota");
    if (run !== this._quotaRun) return; // asked again since (another user signed in): that answer wins
    if (!answer.ok) {
      this._els.quota.replaceChildren(h("p", { class: "muted", text: "Your custom avatar allowance could not be read." }));
      return;
    }
    this._quota = answer.body;
    this._fillChoices(answer.body);
    this._showQuota(answer.body);
  }

  _fillChoices(quota) {
    const qualities = quota.qualities && quota.qualities.length ? quota.qualities : ["fast"];
    const sizes = quota.sizes && quota.sizes.length ? quota.sizes : [512];
    const keepQuality = this._els.quality.value;
    const keepSize = this._els.size.value;
    this._els.quality.replaceChildren(...qualities.map((q) => h("option", { value: q, text: QUALITY_NAMES[q] || titleCase(q) })));
    this._els.size.replaceChildren(...sizes.map((s) => h("option", { value: String(s), text: `${s} px` })));
    if (qualities.includes(keepQuality)) this._els.quality.value = keepQuality;
    if (sizes.map(String).includes(keepSize)) this._els.size.value = keepSize;
  }

  _showQuota(quota) {
    const tight = quotaLeft(quota);
    const tier = TIER_NAMES[quota.tier] || titleCase(quota.tier);
    const parts = [];
    if (tight === null) {
      parts.push(h("p", {}, h("strong", { text: "Unlimited" }), ` custom avatars on your ${tier} plan.`));
    } else {
      const reset = new Date(tight.reset * 1000);
      parts.push(h("p", {}, h("strong", { "data-quota-left": tight.remaining, text: `${tight.remaining} of ${tight.limit}` }),
        ` custom avatars left this ${tight.window}${quota.tier === "anonymous" ? "" : ` on your ${tier} plan`}.`));
      if (tight.remaining === 0) {
        this._track("quota_reached", { once: true });
        parts.push(h("p", { class: "muted small", text: `More from ${reset.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}.` }));
        parts.push(this._upgradePrompt(quota.tier));
      }
    }
    this._els.quota.replaceChildren(...parts);
  }

  _upgradePrompt(tier) {
    if (tier === "premium" || tier === "enterprise") return null;
    const url = this.getAttribute("upgrade-url");
    const text = tier === "anonymous" ? "Sign up free or upgrade to Premium for 50 custom avatars an hour." : "Upgrade to Premium for 50 custom avatars an hour and 1024 px images.";
    const action = url
      ? h("a", { class: "button primary", href: url, text: "Upgrade", onclick: () => this._track("upgrade_clicked") })
      : h("button", { type: "button", class: "primary", text: "Upgrade", onclick: () => { this._track("upgrade_clicked"); this._emit("upgrade-requested", { tier }); } });
    this._track("upgrade_shown", { once: true });
    return h("div", { class: "upgrade" }, h("p", { text }), action);
  }

  // ---- generating ------------------------------------------------------------------------------

  _selectedStyle() {
    const checked = this.shadowRoot.querySelector('input[name="af-style"]:checked');
    return checked ? checked.value : this._styles[0] && this._styles[0].id;
  }

  async _generate() {
    if (!this._styles.length) await this._stylesReady; // pressed before the styles came
    const style = this._selectedStyle();
    if (!style) {
      this._say("The styles could not be loaded. Try again in a moment.");
      return;
    }
    if (this._watch) this._watch.stop();
    this._track(this._photo.readyId ? "photo_started" : "custom_started"); // the funnel counts the two paths apart
    this._hide(this._els.result, this._els.suggestions);
    this._say("");
    this._els.generate.disabled = true;
    const request = { style, prompt: this._els.prompt.value.trim(), quality: this._els.quality.value || "fast", size: Number(this._els.size.value || 512) };
    if (this._photo.readyId) Object.assign(request, { photo: this._photo.readyId, likeness: this._photo.likeness });
    this._showProgress({ percent: null, message: "Sending your request…" });
    const answer = await this._api("/v1/generations", { method: "POST", body: request, headers: { Prefer: `wait=${WAIT_SECONDS}` } });
    if (answer.status === 200 || answer.status === 202) {
      this._follow(answer.body, answer.token);
    } else {
      this._els.generate.disabled = false;
      this._hide(this._els.progress);
      if (answer.body && answer.body.error && answer.body.error.code === "quota_exceeded") this._track("quota_reached", { once: true });
      this._refused(answer, style);
    }
    this._loadQuota();
  }

  _follow(generation, token) {
    this._update(generation);
    if (generation.status === "succeeded" || generation.status === "failed") return;
    this._watch = watchGeneration({
      apiBase: this.apiBase,
      generationId: generation.id,
      token: token || undefined,
      onUpdate: (next) => this._update(next),
      onError: (error) => {
        if (error.code !== "not_found") return; // a passing hiccup: the client carries on
        this._els.generate.disabled = false;
        this._hide(this._els.progress);
        this._say("This avatar request is no longer available. Please try again.");
      },
      onMode: (mode) => {
        if (mode !== "stopped") this._els.progress.dataset.transport = mode;
      },
    });
  }

  _update(generation) {
    this._generation = generation;
    if (generation.status === "succeeded") {
      this._els.generate.disabled = false;
      this._hide(this._els.progress);
      this._showResult(generation);
      this._emit("generation-finished", { generation });
    } else if (generation.status === "failed") {
      this._els.generate.disabled = false;
      this._hide(this._els.progress);
      const reason = generation.error && generation.error.code === "content_rejected"
        ? "That prompt can't be drawn. Try other words, or pick one of these ready-made avatars:"
        : "This one didn't work out (you were not charged). Here are similar ready-made avatars:";
      this._suggestFromGallery(generation.style, reason);
      this._emit("generation-finished", { generation });
      this._loadQuota(); // a failure is refunded
    } else {
      this._showProgress(generation.progress || { percent: null, message: "Creating your unique avatar…" });
    }
  }

  _showProgress(progress) {
    const { bar, progressMessage } = this._els;
    this._els.progress.hidden = false;
    if (typeof progress.percent === "number") {
      const percent = Math.max(0, Math.min(100, Math.round(progress.percent)));
      bar.setAttribute("aria-valuenow", String(percent));
      bar.setAttribute("aria-valuetext", `${percent}%`);
      bar.firstChild.style.width = `${percent}%`;
      bar.classList.remove("indeterminate");
    } else {
      bar.removeAttribute("aria-valuenow");
      bar.removeAttribute("aria-valuetext");
      bar.firstChild.style.width = "";
      bar.classList.add("indeterminate");
    }
    const message = progress.message || "Creating your unique avatar…";
    if (progressMessage.textContent !== message) progressMessage.textContent = message;
  }

  _showResult(generation) {
    const images = generation.images || {};
    const style = this._styleName(generation.style);
    const sizes = ["256", "512", "1024"].filter((s) => images[s]);
    const request = { style: generation.style, prompt: generation.prompt, variation: generation.variation, size: generation.size, quality: generation.quality };
    const use = h("button", { type: "button", class: "primary", text: "Use as my avatar", onclick: () => this._choose({ generation_id: generation.id }, images, request) });
    const parts = [
      h("h3", { text: generation.cached ? "Your avatar (ready instantly)" : "Your new avatar" }),
      h("img", { class: "result-image", src: images["256"] || images["512"], srcset: srcsetOf(images, sizes), sizes: "256px", width: 256, height: 256,
        alt: `Your custom ${style} avatar${generation.prompt ? `: ${generation.prompt}` : ""}` }),
      h("div", { class: "actions" }, use,
        h("a", { class: "button secondary", href: images[String(generation.size)] || images["512"], target: "_blank", rel: "noopener", text: `Open ${generation.size} px image` })),
    ];
    const similar = Array.isArray(generation.similar) ? generation.similar.filter((s) => s && s.images) : [];
    if (similar.length) {
      parts.push(
        h("h4", { text: "Instant matches from similar requests" }),
        h("ul", { class: "grid small-grid" }, similar.map((s) => h("li", {},
          h("button", { type: "button", class: "item", "data-id": s.id, onclick: () => this._choose({ generation_id: s.id }, s.images) },
            h("img", { src: s.images["128"], srcset: srcsetOf(s.images, ["128", "256"]), sizes: "88px", width: 88, height: 88, alt: similarLabel(s, style) })))),
        ),
      );
    }
    this._els.result.replaceChildren(...parts);
    this._els.result.hidden = false;
  }

  _refused(answer, style) {
    const error = (answer.body && answer.body.error) || { code: "internal", message: "Something went wrong." };
    const suggestions = answer.body && Array.isArray(answer.body.suggestions) ? answer.body.suggestions : null;
    const wait = answer.headers && answer.headers.get("Retry-After");
    const minutes = wait ? Math.max(1, Math.ceil(Number(wait) / 60)) : null;
    const lead = {
      quota_exceeded: "You've used all your custom avatars for now. Meanwhile, these ready-made ones are yours to take:",
      rate_limited: `Too many requests at once${minutes ? `; try again in about ${minutes} min` : ""}. Meanwhile:`,
      budget_exhausted: "Custom avatars are paused for today. These ready-made ones are available right now:",
      provider_unavailable: "Our artists are busy right now. These ready-made ones are available instantly:",
    }[error.code];
    if (answer.status === 429 || answer.status === 503 || lead) {
      if (suggestions && suggestions.length) this._showSuggestions(suggestions, lead || error.message);
      else this._suggestFromGallery(style, lead || error.message);
      return;
    }
    this._say(answer.status === 403 ? `${error.message} Choose another quality or size.` : error.message);
  }

  async _suggestFromGallery(style, lead) {
    const answer = await this._api(`/v1/gallery?${new URLSearchParams({ style, limit: String(SUGGESTION_LIMIT) })}`);
    this._showSuggestions(answer.ok ? answer.body.items : [], lead);
  }

  _showSuggestions(items, lead) {
    this._els.suggestions.replaceChildren(
      h("h3", { text: "Suggestions" }),
      h("p", { text: lead }),
      h("ul", { class: "grid" }, items.slice(0, SUGGESTION_LIMIT).map((item) => h("li", {}, this._itemButton(item, true)))),
    );
    this._els.suggestions.hidden = false;
    this._markSelected();
  }

  // ---- choosing --------------------------------------------------------------------------------

  // ``request``: how to ask for the same avatar again (a cache hit, free), for a visitor who signs in.
  async _choose(choice, images, request = null) {
    const source = choice.gallery_id ? "gallery" : "generation";
    const id = choice.gallery_id || choice.generation_id;
    const answer = await this._api("/v1/me/avatar", { method: "PUT", body: choice });
    if (answer.ok) {
      this._selectedId = id;
      this._markSelected();
      this._say("Saved: this is now your avatar.", "ok");
      this._track("avatar_chosen");
      this._emit("avatar-selected", { source, id, images: answer.body.avatar.images, saved: true });
    } else if (answer.status === 401 && !answer.token) {
      // A visitor: the choice waits for a sign-in (refresh()), and the host page hears of it now.
      this._pending = source === "gallery" ? { choice, images } : request ? { request, images } : null;
      this._selectedId = id;
      this._markSelected();
      this._say("Good choice! Sign in to keep it as your profile picture.", "ok");
      this._track("avatar_chosen");
      this._emit("avatar-selected", { source, id, images, saved: false });
    } else {
      this._say((answer.body && answer.body.error && answer.body.error.message) || "That avatar could not be saved. Try again.");
    }
  }

  // The visitor who chose an avatar has signed in: make it theirs. A generation is asked for again
  // under their name, which the cache answers at once without using their quota.
  async _keepPending() {
    const pending = this._pending;
    if (!(await this._token())) return; // still a visitor: keep waiting
    this._pending = null;
    let choice = pending.choice;
    if (pending.request) {
      this._say("Keeping your avatar…", "ok");
      const made = await this._api("/v1/generations", { method: "POST", body: pending.request, headers: { Prefer: "wait=10" } });
      if (made.status !== 200 || made.body.status !== "succeeded") {
        this._say("Your avatar could not be kept: please make it again now that you are signed in.");
        return;
      }
      this._showResult(made.body);
      choice = { generation_id: made.body.id };
    }
    await this._choose(choice, pending.images);
  }

  // ---- helpers ---------------------------------------------------------------------------------

  _say(text, kind = "error") {
    this._els.message.textContent = text;
    this._els.message.className = `message ${kind}`;
  }

  _hide(...els) {
    for (const el of els) el.hidden = true;
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }
}

if (!customElements.get("avatarflow-picker")) customElements.define("avatarflow-picker", AvatarflowPicker);
