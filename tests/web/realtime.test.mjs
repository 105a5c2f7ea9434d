// Tests of web/realtime.js on Node's own test runner (node --test tests/web/); run by
// tests/unit/test_web_client.py. A fake WebSocket, a fake fetch and manual timers: no network.
import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay, pollDelay, rankOf, watchGeneration } from "../../web/realtime.js";

const API = "http://api.test";
const WS = "ws://api.test:8001";

function generation(status, phase = null, extra = {}) {
  return { id: "gen_1", status, progress: phase ? { phase, percent: 0, queue_position: null, message: "" } : null, eta_seconds: phase ? 4 : null, ...extra };
}

function response(status, body, headers = {}) {
  return { ok: status >= 200 && status < 300, status, json: async () => body, headers: { get: (name) => headers[name] ?? null } };
}

class Timers {
  constructor() { this.queue = []; this.delays = []; }
  setTimeout = (fn, ms) => { this.queue.push(fn); this.delays.push(ms); return this.queue.length; };
  clearTimeout = () => {};
  async runNext() { const fn = this.queue.shift(); assert.ok(fn, "a timer was due"); await fn(); await flush(); }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function fakeSockets({ refuse = false } = {}) {
  const made = [];
  class FakeSocket {
    constructor(url) { this.url = url; this.sent = []; this.closed = false; made.push(this); queueMicrotask(() => (refuse ? this.onclose?.({}) : this.onopen?.())); }
    send(text) { this.sent.push(JSON.parse(text)); }
    close() { this.closed = true; }
    push(message) { this.onmessage?.({ data: JSON.stringify(message) }); }
    drop() { this.onclose?.({}); }
  }
  return { FakeSocket, made };
}

function fetcher(routes) {
  const calls = [];
  const impl = async (url, init) => {
    calls.push({ url, headers: init.headers });
    const route = routes[url.replace(API, "")];
    const answer = typeof route === "function" ? route() : route;
    if (!answer) throw new Error(`unexpected fetch ${url}`);
    return answer;
  };
  return { impl, calls };
}

test("watches over the socket and hands over every newer state until the end", async () => {
  const { FakeSocket, made } = fakeSockets();
  const { impl } = fetcher({ "/v1/realtime": response(200, { url: WS, protocol: "avatarflow.events.v1" }) });
  const seen = [];
  const modes = [];
  watchGeneration({ apiBase: `${API}/`, generationId: "gen_1", token: "t.o.k", onUpdate: (g) => seen.push(rankOf(g)), onMode: (m) => modes.push(m), WebSocketImpl: FakeSocket, fetchImpl: impl, timers: new Timers() });
  await flush();
  assert.equal(made.length, 1);
  assert.equal(made[0].url, `${WS}/?token=t.o.k`);
  assert.deepEqual(made[0].sent, [{ action: "watch", generation_id: "gen_1" }]);
  made[0].push({ type: "generation", generation: generation("queued", "queued") });
  made[0].push({ type: "generation", generation: generation("running", "generating") });
  made[0].push({ type: "generation", generation: generation("running", "starting") }); // overtaken: dropped
  made[0].push({ type: "generation", generation: { ...generation("queued", "queued"), id: "gen_other" } });
  made[0].push({ type: "generation", generation: generation("succeeded") });
  assert.deepEqual(seen, [0, 2, 4]);
  assert.equal(made[0].closed, true);
  assert.deepEqual(modes, ["connecting", "live", "stopped"]);
});

test("a dropped socket is reconnected with growing delays and watched again", async () => {
  const { FakeSocket, made } = fakeSockets();
  const { impl } = fetcher({ "/v1/realtime": response(200, { url: WS }) });
  const timers = new Timers();
  watchGeneration({ apiBase: API, generationId: "gen_1", apiKey: "afk_k", onUpdate: () => {}, WebSocketImpl: FakeSocket, fetchImpl: impl, timers, random: () => 1 });
  await flush();
  assert.equal(made[0].url, `${WS}/?api_key=afk_k`);
  made[0].drop();
  await timers.runNext();
  await flush();
  assert.equal(made.length, 2);
  assert.deepEqual(made[1].sent, [{ action: "watch", generation_id: "gen_1" }]);
  assert.deepEqual(timers.delays, [500]);
  assert.deepEqual([0, 1, 2, 3, 10].map((n) => backoffDelay(n, () => 1)), [500, 1000, 2000, 4000, 30000]);
  assert.deepEqual([0, 3].map((n) => backoffDelay(n, () => 0)), [250, 2000]);
});

test("a socket that cannot connect falls back to polling paced by Retry-After", async () => {
  const { FakeSocket, made } = fakeSockets({ refuse: true });
  let polls = 0;
  const { impl, calls } = fetcher({
    "/v1/realtime": response(200, { url: WS }),
    "/v1/generations/gen_1": () => (++polls < 3 ? response(200, generation("running", "generating"), { "Retry-After": "3" }) : response(200, generation("succeeded"))),
  });
  const timers = new Timers();
  const seen = [];
  const modes = [];
  watchGeneration({ apiBase: API, generationId: "gen_1", token: "tok", onUpdate: (g) => seen.push(g.status), onMode: (m) => modes.push(m), WebSocketImpl: FakeSocket, fetchImpl: impl, timers, random: () => 1 });
  await flush();
  await timers.runNext(); // the second try to connect, refused again
  await flush();
  assert.equal(made.length, 2);
  assert.equal(modes.at(-1), "polling");
  await timers.runNext();
  await timers.runNext();
  assert.deepEqual(seen, ["running", "running", "succeeded"]);
  assert.deepEqual(timers.delays.slice(1), [3000, 3000]);
  assert.equal(calls.filter((c) => c.url.endsWith("/gen_1"))[0].headers.Authorization, "Bearer tok");
  assert.equal(modes.at(-1), "stopped");
});

test("no real-time API here: polling at once; an error message is reported", async () => {
  const { impl } = fetcher({
    "/v1/realtime": response(404, { error: { code: "not_found", message: "no" } }),
    "/v1/generations/gen_1": response(404, { error: { code: "not_found", message: "No such generation." } }),
  });
  const errors = [];
  watchGeneration({ apiBase: API, generationId: "gen_1", onUpdate: () => assert.fail("nothing to show"), onError: (e) => errors.push(e.code), WebSocketImpl: undefined, fetchImpl: impl, timers: new Timers() });
  await flush();
  await flush();
  assert.deepEqual(errors, ["not_found"]);
});

test("poll delays come from Retry-After, else half the ETA, within bounds", () => {
  assert.equal(pollDelay(response(200, {}, { "Retry-After": "7" }), null), 7000);
  assert.equal(pollDelay(response(200, {}), { eta_seconds: 10 }), 5000);
  assert.equal(pollDelay(response(200, {}), { eta_seconds: 0.2 }), 1000);
  assert.equal(pollDelay(null, null), 2000);
  assert.equal(pollDelay(response(503, {}, { "Retry-After": "600" }), null), 30000);
});
