// The gallery-only mode of <avatarflow-picker gallery-src="gallery.json">: the API's few answers the
// picker needs, computed from a static index (chalicelib/gallery_site.py writes it) instead of asked
// of an API. No request leaves for /v1: there is no service behind a static host.
//
//   GET /v1/gallery?style&tag&limit&cursor -> {items, next_cursor} (the cursor is an offset)
//   GET /v1/styles                         -> {styles}
//   PUT /v1/me/avatar {gallery_id}         -> {avatar: {source: "gallery", id, images}} (kept by the page)
// Anything else answers 404 not_found.

const indexes = new Map(); // one fetch of each index per page

export function loadIndex(src) {
  const url = new URL(src, document.baseURI).href;
  if (!indexes.has(url)) {
    indexes.set(url, fetch(url).then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`)))).catch((error) => {
      indexes.delete(url); // try again next time
      throw error;
    }));
  }
  return indexes.get(url);
}

function absolute(images, base) {
  const out = {};
  for (const [size, url] of Object.entries(images || {})) out[size] = new URL(url, base).href;
  return out;
}

function ok(body) {
  return { ok: true, status: 200, body, headers: new Headers(), token: null };
}

function error(status, code, message) {
  return { ok: false, status, body: { error: { code, message } }, headers: new Headers(), token: null };
}

export function staticAnswer(index, base, path, { method = "GET", body } = {}) {
  const url = new URL(path, "http://static.invalid");
  if (method === "GET" && url.pathname === "/v1/gallery") {
    const style = url.searchParams.get("style");
    const tag = url.searchParams.get("tag");
    const limit = Math.min(100, Math.max(1, Number(url.searchParams.get("limit")) || 24));
    const start = Math.max(0, Number(url.searchParams.get("cursor")) || 0);
    const matching = index.items.filter((item) => (!style || item.style === style) && (!tag || (item.tags || []).includes(tag)));
    const items = matching.slice(start, start + limit).map((item) => ({ ...item, images: absolute(item.images, base) }));
    const next = start + limit < matching.length ? String(start + limit) : null;
    return ok({ items, next_cursor: next });
  }
  if (method === "GET" && url.pathname === "/v1/styles") {
    return ok({ styles: index.styles.map((s) => ({ ...s, preview_url: s.preview_url ? new URL(s.preview_url, base).href : null })) });
  }
  if (method === "PUT" && url.pathname === "/v1/me/avatar" && body && body.gallery_id) {
    const item = index.items.find((i) => i.id === body.gallery_id);
    if (!item) return error(404, "not_found", "This avatar is not in the gallery.");
    return ok({ avatar: { source: "gallery", id: item.id, images: absolute(item.images, base) } });
  }
  return error(404, "not_found", "Not available in gallery-only mode.");
}
