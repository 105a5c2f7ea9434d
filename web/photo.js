// "Use my photo": the picker's photo part (a region named "Photo"), kept apart from picker.js.
//
// A file input (the camera on phones: capture="user") behind a "Use my photo" button; the photo
// goes straight to the object store with the presigned form of POST /v1/uploads (never through the
// API), then GET /v1/uploads/{id} is polled until the checks say ready (the preview shows the face
// found) or rejected (a clear message per reason). The picker's Generate then sends
// {"photo": id, "likeness": ...} with the chosen style. Nothing a server sends becomes markup.

const ACCEPTED = ["image/jpeg", "image/png", "image/webp"];
const MAX_BYTES = 10 * 1024 * 1024;
const POLL_MS = 500;
const POLL_LIMIT_MS = 60_000;

// What the page says for each refusal (the server's own message follows where it adds detail).
export const REJECTION_MESSAGES = {
  no_face: "We could not find a face in this photo. Try one where your face is clearly visible and well lit.",
  several_faces: "This photo shows more than one face. Use a photo of you alone.",
  content_rejected: "This photo cannot be used: it was refused by our content policy.",
  unsupported_media_type: "This file is not a photo we can read. Use a JPEG, PNG or WebP image.",
  payload_too_large: "This photo is too large. Use one under 10 MB and 40 megapixels.",
  unauthorized: "Sign in to make an avatar from your photo.",
  rate_limited: "You have uploaded many photos in the last hour. Try again a little later.",
};

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else if (key in node && !key.includes("-")) node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

export function rejectionMessage(error) {
  if (!error) return "This photo could not be used.";
  return REJECTION_MESSAGES[error.code] || error.message || "This photo could not be used.";
}

// The face box as CSS percentages of the preview (the box is in fractions of the oriented photo).
export function faceBoxStyle(face) {
  const pct = (v) => `${Math.max(0, Math.min(100, v * 100)).toFixed(2)}%`;
  return { left: pct(face.x), top: pct(face.y), width: pct(face.w), height: pct(face.h) };
}

export class PhotoPart {
  // api(path, {method, body}) -> {ok, status, body}: the picker's own API call (with the user's token).
  constructor({ api, onChange = () => {} }) {
    this._api = api;
    this._onChange = onChange;
    this._upload = null; // the ready upload
    this._run = 0;
    this._preview = null;
    this.element = this._build();
  }

  get readyId() {
    return this._upload && this._upload.status === "ready" ? this._upload.id : null;
  }

  get likeness() {
    return Number(this._likeness.value) / 100;
  }

  _build() {
    this._input = el("input", {
      type: "file",
      accept: ACCEPTED.join(","),
      capture: "user",
      class: "visually-hidden",
      tabindex: "-1",
      "aria-hidden": "true",
      onchange: () => this._chosen(),
    });
    this._button = el("button", { type: "button", class: "secondary", text: "Use my photo", onclick: () => this._input.click() });
    this._clear = el("button", { type: "button", class: "secondary", text: "Remove photo", hidden: true, onclick: () => this.clear() });
    this._image = el("img", { alt: "Your photo", class: "photo-preview" });
    this._box = el("div", { class: "face-box", "aria-hidden": "true", hidden: true });
    this._figure = el("figure", { class: "photo-figure", hidden: true }, el("div", { class: "photo-frame" }, this._image, this._box));
    this._status = el("p", { class: "muted small photo-status", role: "status", "aria-live": "polite" });
    this._likeness = el("input", { id: "af-likeness", type: "range", min: 0, max: 100, step: 5, value: 80 });
    this._likenessField = el("div", { class: "field", hidden: true }, el("label", { for: "af-likeness", text: "Likeness" }), this._likeness);
    return el(
      "section",
      { class: "photo", role: "region", "aria-label": "Photo" },
      this._input,
      el("div", { class: "actions" }, this._button, this._clear),
      el("p", { class: "muted small", text: "An avatar that looks like you: a photo of your face, kept 24 hours." }),
      this._figure,
      this._status,
      this._likenessField,
    );
  }

  clear() {
    this._run += 1;
    this._upload = null;
    this._input.value = "";
    if (this._preview) URL.revokeObjectURL(this._preview);
    this._preview = null;
    this._figure.hidden = true;
    this._box.hidden = true;
    this._clear.hidden = true;
    this._likenessField.hidden = true;
    this._status.textContent = "";
    this._onChange(null);
  }

  _say(text) {
    this._status.textContent = text;
  }

  async _chosen() {
    const file = this._input.files && this._input.files[0];
    if (!file) return;
    this.clear();
    const run = this._run;
    if (!ACCEPTED.includes(file.type)) return this._say(REJECTION_MESSAGES.unsupported_media_type);
    if (file.size > MAX_BYTES || file.size < 1) return this._say(REJECTION_MESSAGES.payload_too_large);
    this._preview = URL.createObjectURL(file);
    this._image.src = this._preview;
    this._figure.hidden = false;
    this._clear.hidden = false;
    this._say("Uploading your photo…");
    const ticket = await this._api("/v1/uploads", { method: "POST", body: { content_type: file.type, content_length: file.size } });
    if (run !== this._run) return;
    if (ticket.status !== 201) return this._say(rejectionMessage(ticket.body && ticket.body.error));
    const form = new FormData();
    for (const [name, value] of Object.entries(ticket.body.fields)) form.append(name, value);
    form.append("file", file); // the file last, as the policy upload wants it
    let sent;
    try {
      sent = await fetch(ticket.body.url, { method: "POST", body: form });
    } catch (error) {
      return this._say("The photo could not be sent. Check your connection and try again.");
    }
    if (run !== this._run) return;
    if (!sent.ok) return this._say(sent.status === 413 ? REJECTION_MESSAGES.payload_too_large : "The photo could not be sent. Try again.");
    this._say("Checking your photo…");
    const upload = await this._poll(ticket.body.id, run);
    if (!upload || run !== this._run) return;
    if (upload.status === "rejected") return this._say(rejectionMessage(upload.error));
    this._upload = upload;
    Object.assign(this._box.style, faceBoxStyle(upload.face));
    this._box.hidden = false;
    this._likenessField.hidden = false;
    this._say("Face found. Pick a style and press Generate.");
    this._onChange(upload);
  }

  async _poll(id, run) {
    const until = Date.now() + POLL_LIMIT_MS;
    while (Date.now() < until) {
      const answer = await this._api(`/v1/uploads/${encodeURIComponent(id)}`);
      if (run !== this._run) return null;
      if (!answer.ok) {
        this._say(rejectionMessage(answer.body && answer.body.error));
        return null;
      }
      if (answer.body.status !== "pending") return answer.body;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    this._say("Checking your photo is taking too long. Try again in a moment.");
    return null;
  }
}
