// The picker's conversion funnel (POST /v1/events, docs/contract.md "Product analytics"): what a
// visitor does, by name only (no id, no text, nothing personal), batched: sent when 20 are waiting,
// a few seconds after the last one, or as the page goes away (fetch keepalive).

export const FUNNEL_EVENTS = Object.freeze([
  "gallery_viewed", "style_chosen", "custom_started", "photo_started",
  "quota_reached", "upgrade_shown", "upgrade_clicked", "avatar_chosen",
]);
export const MAX_BATCH = 20; // the API's limit per request

export class Funnel {
  // send(events, { keepalive }) posts one batch; delayMs: how long a batch waits for company.
  constructor(send, { delayMs = 3000, target = typeof window === "undefined" ? null : window } = {}) {
    this._send = send;
    this._delayMs = delayMs;
    this._queue = [];
    this._timer = null;
    if (target) target.addEventListener("pagehide", () => this.flush({ keepalive: true }));
  }

  track(name) {
    if (!FUNNEL_EVENTS.includes(name)) return;
    this._queue.push({ name });
    if (this._queue.length >= MAX_BATCH) this.flush();
    else if (this._timer === null) this._timer = setTimeout(() => this.flush(), this._delayMs);
  }

  flush({ keepalive = false } = {}) {
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
    while (this._queue.length) {
      const batch = this._queue.splice(0, MAX_BATCH);
      Promise.resolve(this._send(batch, { keepalive })).catch(() => {}); // analytics never disturb the page
    }
  }
}
