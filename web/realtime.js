// avatarflow real-time status client (protocol "avatarflow.events.v1"; docs/contract.md).
//
//   import { watchGeneration } from "/web/realtime.js";
//   const watch = watchGeneration({
//     apiBase: "https://api.example.com/v1api",      // where /v1/... is served
//     generationId: "gen_...",
//     token: userJwt,                                  // or apiKey: "...", or neither (anonymous)
//     onUpdate: (generation) => render(generation),    // the Generation body, as GET returns it
//   });
//   watch.stop();
//
// It asks GET /v1/realtime where the WebSocket API is, connects with the credentials in the query
// string, watches the generation and hands every pushed state to onUpdate until the generation
// ends. A socket that drops is reconnected with exponential backoff (and jitter); one that cannot
// connect at all falls back to polling GET /v1/generations/{id}, paced by Retry-After (or the
// generation's own eta_seconds). Pushes may overtake each other across API Gateway's handlers:
// a state older than one already shown is dropped, so the page never goes backwards.
// No dependencies; timers, fetch and WebSocket can be injected (tests).

const RANK = { queued: 0, starting: 1, generating: 2, storing: 3, succeeded: 4, failed: 4 };
const TERMINAL = new Set(["succeeded", "failed"]);
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30000;
const POLL_MIN_MS = 1000;
const POLL_MAX_MS = 30000;
const FAILED_CONNECTS_BEFORE_POLLING = 2;

export function rankOf(generation) {
  if (TERMINAL.has(generation.status)) return RANK[generation.status];
  const phase = generation.progress && generation.progress.phase;
  return RANK[phase] ?? RANK[generation.status] ?? 0;
}

export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2); // "equal jitter"
}

export function pollDelay(response, generation) {
  const header = response && response.headers && response.headers.get("Retry-After");
  const seconds = header !== null && header !== undefined && header !== "" ? Number(header) : NaN;
  let ms = Number.isFinite(seconds) ? seconds * 1000 : NaN;
  if (!Number.isFinite(ms) && generation && typeof generation.eta_seconds === "number") {
    ms = (generation.eta_seconds * 1000) / 2; // look again halfway to the estimate
  }
  if (!Number.isFinite(ms)) ms = 2000;
  return Math.min(POLL_MAX_MS, Math.max(POLL_MIN_MS, ms));
}

export function watchGeneration(options) {
  const {
    apiBase,
    generationId,
    token,
    apiKey,
    onUpdate,
    onError = () => {},
    onMode = () => {},
    WebSocketImpl = globalThis.WebSocket,
    fetchImpl = globalThis.fetch.bind(globalThis),
    timers = { setTimeout: globalThis.setTimeout.bind(globalThis), clearTimeout: globalThis.clearTimeout.bind(globalThis) },
    random = Math.random,
  } = options;
  const base = String(apiBase).replace(/\/+$/, "");
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (apiKey) headers["X-API-Key"] = apiKey;

  let stopped = false;
  let socket = null;
  let timer = null;
  let attempt = 0;
  let failedConnects = 0;
  let shown = -1;

  function deliver(generation) {
    if (stopped || !generation || generation.id !== generationId) return;
    const rank = rankOf(generation);
    if (rank < shown) return; // an older state overtaken by a newer one
    shown = rank;
    onUpdate(generation);
    if (TERMINAL.has(generation.status)) stop();
  }

  function later(fn, ms) {
    timers.clearTimeout(timer);
    timer = timers.setTimeout(fn, ms);
  }

  async function poll() {
    if (stopped) return;
    onMode("polling");
    let response = null;
    let generation = null;
    try {
      response = await fetchImpl(`${base}/v1/generations/${encodeURIComponent(generationId)}`, { headers });
      const body = await response.json();
      if (response.ok) generation = body;
      else if (response.status === 404 || response.status === 401) {
        onError(body.error || { code: "not_found", message: "No such generation." });
        stop();
        return;
      }
    } catch (error) {
      onError({ code: "network", message: String(error) });
    }
    if (generation) deliver(generation);
    if (!stopped) later(poll, pollDelay(response, generation));
  }

  function fallBackToPolling() {
    if (socket) socket.onclose = null;
    socket = null;
    poll();
  }

  function reconnect() {
    if (stopped) return;
    if (failedConnects >= FAILED_CONNECTS_BEFORE_POLLING) {
      fallBackToPolling();
      return;
    }
    later(connect, backoffDelay(attempt++, random));
  }

  async function connect() {
    if (stopped) return;
    let url;
    try {
      const response = await fetchImpl(`${base}/v1/realtime`, { headers });
      if (!response.ok) throw new Error(`GET /v1/realtime answered ${response.status}`);
      url = (await response.json()).url;
    } catch (error) {
      fallBackToPolling(); // no real-time API here: polling is the contract's promise
      return;
    }
    if (!WebSocketImpl) {
      fallBackToPolling();
      return;
    }
    const query = token ? `?token=${encodeURIComponent(token)}` : apiKey ? `?api_key=${encodeURIComponent(apiKey)}` : "";
    let opened = false;
    try {
      socket = new WebSocketImpl(`${url.replace(/\/+$/, "")}/${query}`);
    } catch (error) {
      failedConnects += 1;
      reconnect();
      return;
    }
    onMode("connecting");
    socket.onopen = () => {
      opened = true;
      attempt = 0;
      failedConnects = 0;
      onMode("live");
      socket.send(JSON.stringify({ action: "watch", generation_id: generationId }));
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (message.type === "generation") deliver(message.generation);
      else if (message.type === "error") {
        onError(message.error);
        if (message.error.code === "not_found") stop();
        else if (message.error.code === "unauthorized") socket.close(); // unknown connection: anew
      }
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      socket = null;
      if (stopped) return;
      if (!opened) failedConnects += 1;
      reconnect();
    };
  }

  function stop() {
    if (stopped) return;
    stopped = true;
    timers.clearTimeout(timer);
    if (socket) {
      socket.onclose = null;
      try {
        socket.close();
      } catch (error) {
        // already closed
      }
    }
    onMode("stopped");
  }

  connect();
  return { stop };
}
