// edged's live view: polls /healthz once a second for the figures and
// refreshes each camera's snapshot at most twice a second. Everything it
// loads comes from this box.
"use strict";

const cams = new Map(); // name -> {card, img, frames, at, busy}
const overlay = document.getElementById("overlay");

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function card(name) {
  const c = el("section", { class: "camera", "data-camera": name });
  const h = el("h2");
  h.append(el("span", {}, name), el("span", { class: "state muted" }, ""));
  const img = el("img", { alt: "latest frame of " + name });
  const labels = el("p", { class: "labels", "aria-live": "polite" }, "");
  const dl = el("dl");
  c.append(h, img, labels, dl);
  document.getElementById("cameras").append(c);
  const cam = { card: c, img, labels, dl, frames: 0, at: 0, fps: 0, busy: false };
  img.addEventListener("load", () => { cam.busy = false; });
  img.addEventListener("error", () => { cam.busy = false; });
  cams.set(name, cam);
  return cam;
}

function refresh(name, cam) {
  if (cam.busy || document.hidden) return;
  cam.busy = true;
  const q = overlay.checked ? "overlay=1&" : "";
  cam.img.src = "/api/cameras/" + encodeURIComponent(name) + "/snapshot.jpg?" + q + "t=" + Date.now();
}

// showLatest writes what the camera's latest results said: per region (or
// for the whole frame) the frame number and labels of the same result
// that went to MQTT.
async function showLatest(name, cam) {
  let views;
  try {
    const r = await fetch("/api/cameras/" + encodeURIComponent(name) + "/latest", { cache: "no-store" });
    if (!r.ok) return;
    views = await r.json();
  } catch (e) {
    return;
  }
  cam.labels.replaceChildren();
  for (const v of views) {
    const top = (v.labels || []).map((l) => l.label + " " + l.score.toFixed(2)).join(", ");
    const text = (v.region ? v.region + ": " + v.state + " · " : "") + top;
    const line = el("span", { class: "view", "data-frame": String(v.frame), "data-region": v.region || "",
      "data-label": (v.labels && v.labels.length) ? v.labels[0].label : "" }, "frame " + v.frame + " · " + text);
    cam.labels.append(line);
  }
}

function row(dl, k, v) {
  dl.append(el("dt", {}, k), el("dd", {}, v));
}

let lastStatus = {};

async function poll() {
  let s;
  try {
    const r = await fetch("/healthz", { cache: "no-store" });
    if (r.status === 401) { document.getElementById("signin").hidden = false; return; }
    s = await r.json();
    lastStatus = s;
  } catch (e) {
    document.getElementById("health").textContent = "unreachable";
    document.getElementById("health").className = "badge failed";
    return;
  }
  document.getElementById("device").textContent = s.device;
  document.title = "edged · " + s.device;
  const h = document.getElementById("health");
  h.textContent = s.status;
  h.className = "badge " + s.status;
  const broker = s.broker ? (s.broker.connected ? "broker connected" : "broker away") : "no broker";
  const queue = s.queue ? " · queue " + s.queue.depth : "";
  const models = (s.models || []).map((m) => m.name + " " + m.sha256.slice(0, 12)).join(", ");
  document.getElementById("summary").textContent = "edged " + s.version + " · " + broker + queue + " · " + models;
  const now = performance.now();
  for (const name of Object.keys(s.cameras).sort()) {
    const st = s.cameras[name];
    const inf = (s.inference || {})[name] || { frames: 0, infer_ms: 0 };
    const cam = cams.get(name) || card(name);
    if (cam.at) {
      const dt = (now - cam.at) / 1000;
      // A camera restarted (its regions changed) counts from zero again.
      if (inf.frames < cam.frames) cam.fps = 0;
      else if (dt > 0) cam.fps = 0.5 * cam.fps + 0.5 * ((inf.frames - cam.frames) / dt);
    }
    cam.frames = inf.frames;
    cam.at = now;
    if (!document.hidden) showLatest(name, cam);
    cam.card.querySelector(".state").textContent = st.state;
    cam.dl.replaceChildren();
    row(cam.dl, "inferred", cam.fps.toFixed(1) + " frames/s");
    row(cam.dl, "inference", inf.infer_ms.toFixed(1) + " ms");
    row(cam.dl, "captured", st.captured + " (" + st.dropped + " dropped)");
    if (st.frame_width) row(cam.dl, "frame", st.frame_width + "×" + st.frame_height);
    if (st.last_error) row(cam.dl, "error", st.last_error);
  }
}

setInterval(poll, 1000);
setInterval(() => cams.forEach((cam, name) => refresh(name, cam)), 500);
poll();

// ---- The samples inbox: one sample at a time, most uncertain first, one
// key press per sample.
const inbox = { items: [], i: 0, classes: [] };

async function api(path, body) {
  const r = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    credentials: "same-origin",
  });
  if (r.status === 401 || r.status === 403) {
    document.getElementById("signin").hidden = false;
    throw new Error(await r.text());
  }
  if (!r.ok) throw new Error(await r.text());
}

function status(msg) { document.getElementById("inbox-status").textContent = msg; }

async function loadInbox() {
  try {
    const [items, classes] = await Promise.all([
      fetch("/api/samples?max=200", { cache: "no-store" }).then((r) => r.ok ? r.json() : []),
      fetch("/api/classes", { cache: "no-store" }).then((r) => r.ok ? r.json() : {}),
    ]);
    inbox.items = items;
    const known = new Set(Object.keys(classes));
    for (const it of items) for (const l of it.labels || []) known.add(l.label);
    inbox.classes = [...known].sort().slice(0, 9);
    inbox.i = Math.min(inbox.i, Math.max(0, items.length - 1));
    showSample();
  } catch (e) {
    status("samples: " + e.message);
  }
}

function showSample() {
  const cur = document.getElementById("inbox-current");
  cur.replaceChildren();
  document.getElementById("inbox-count").textContent = "(" + inbox.items.length + " waiting)";
  const list = document.getElementById("classes");
  list.replaceChildren();
  inbox.classes.forEach((c, k) => list.append(el("li", {}, (k + 1) + " " + c)));
  const it = inbox.items[inbox.i];
  if (!it) { cur.append(el("p", { class: "muted" }, "Nothing to label.")); return; }
  const img = el("img", { alt: "sample " + it.id, src: "/api/samples/image?id=" + encodeURIComponent(it.id) });
  const dl = el("dl");
  row(dl, "camera", it.camera + (it.region ? " / " + it.region : ""));
  row(dl, "time", new Date(it.time).toLocaleString());
  row(dl, "edged said", (it.labels || []).slice(0, 3).map((l) => l.label + " " + l.score.toFixed(2)).join(", "));
  row(dl, "uncertainty", it.uncertainty.toFixed(2));
  cur.append(img, dl);
}

async function act(kind, cls) {
  const it = inbox.items[inbox.i];
  if (!it) return;
  try {
    if (kind === "label") await api("/api/samples/label", { id: it.id, class: cls });
    else await api("/api/samples/discard", { id: it.id });
    status((kind === "label" ? "labelled " + cls : "discarded") + ": " + it.id);
    inbox.items.splice(inbox.i, 1);
    if (kind === "label" && !inbox.classes.includes(cls) && inbox.classes.length < 9) inbox.classes.push(cls);
    showSample();
  } catch (e) {
    status(e.message);
  }
}

document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key >= "1" && e.key <= "9") {
    const c = inbox.classes[Number(e.key) - 1];
    if (c) act("label", c);
  } else if (e.key === "n") {
    const c = prompt("New class");
    if (c) act("label", c.trim());
  } else if (e.key === "d") {
    act("discard");
  } else if (e.key === "j" || e.key === "ArrowRight") {
    inbox.i = Math.min(inbox.i + 1, Math.max(0, inbox.items.length - 1)); showSample();
  } else if (e.key === "k" || e.key === "ArrowLeft") {
    inbox.i = Math.max(inbox.i - 1, 0); showSample();
  } else {
    return;
  }
  e.preventDefault();
});

document.getElementById("signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await fetch("/api/signin", { method: "POST", body: new URLSearchParams(new FormData(e.target)), credentials: "same-origin" });
  if (r.ok) { e.target.hidden = true; status("signed in"); loadInbox(); } else { status("wrong token"); }
});

loadInbox();
setInterval(() => { if (!document.hidden) loadInbox(); }, 10000);

// ---- The region editor: drag on a frame, read the YAML.
document.getElementById("cameras").addEventListener("pointerdown", (e) => {
  const img = e.target;
  if (img.tagName !== "IMG") return;
  e.preventDefault();
  const card = img.closest(".camera");
  const box = img.getBoundingClientRect();
  const x0 = e.clientX - box.left, y0 = e.clientY - box.top;
  const drag = el("div", { class: "drag" });
  card.append(drag);
  const place = (ev) => {
    const x1 = Math.min(Math.max(ev.clientX - box.left, 0), box.width);
    const y1 = Math.min(Math.max(ev.clientY - box.top, 0), box.height);
    const r = { x: Math.min(x0, x1), y: Math.min(y0, y1), w: Math.abs(x1 - x0), h: Math.abs(y1 - y0) };
    Object.assign(drag.style, { left: img.offsetLeft + r.x + "px", top: img.offsetTop + r.y + "px", width: r.w + "px", height: r.h + "px" });
    return r;
  };
  const move = (ev) => place(ev);
  const up = (ev) => {
    document.removeEventListener("pointermove", move);
    document.removeEventListener("pointerup", up);
    const r = place(ev);
    drag.remove();
    if (r.w < 4 || r.h < 4) return;
    const name = card.dataset.camera;
    const st = (lastStatus.cameras || {})[name] || {};
    const fw = st.frame_width || img.naturalWidth, fh = st.frame_height || img.naturalHeight;
    const fx = r.x / box.width, fy = r.y / box.height, fwid = r.w / box.width, fhei = r.h / box.height;
    drawn = { camera: name, width: fw, height: fh, roi: { x: fx, y: fy, w: fwid, h: fhei } };
    document.getElementById("region-apply").hidden = false;
    showRegionYAML();
  };
  document.addEventListener("pointermove", move);
  document.addEventListener("pointerup", up);
});

let drawn = null; // the last rectangle drawn: {camera, roi}

function regionName() {
  return document.getElementById("region-name").value.trim() || "region-1";
}

// showRegionYAML writes the drawn rectangle as configuration, in
// fractions of the frame and in its pixels, under the name typed.
function showRegionYAML() {
  if (!drawn) return;
  const { x, y, w, h } = drawn.roi, fw = drawn.width, fh = drawn.height;
  const f = (v) => v.toFixed(4); // always with a point: whole numbers are pixels
  document.getElementById("region-yaml").textContent =
    "# camera " + drawn.camera + " (" + fw + "x" + fh + ")\n" +
    "regions:\n" +
    "  - name: " + regionName() + "\n" +
    "    roi: {x: " + f(x) + ", y: " + f(y) + ", w: " + f(w) + ", h: " + f(h) + "}   # fractions of the frame\n" +
    "    # in pixels: roi: {x: " + Math.round(x * fw) + ", y: " + Math.round(y * fh) + ", w: " + Math.round(w * fw) + ", h: " + Math.round(h * fh) + "}\n";
}

document.getElementById("region-name").addEventListener("input", showRegionYAML);

document.getElementById("region-apply").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = document.getElementById("region-status");
  if (!drawn) return;
  const r4 = (v) => Math.round(v * 1e4) / 1e4;
  const roi = { x: r4(drawn.roi.x), y: r4(drawn.roi.y), w: r4(drawn.roi.w), h: r4(drawn.roi.h) };
  out.textContent = "applying…";
  try {
    const r = await fetch("/api/cameras/" + encodeURIComponent(drawn.camera) + "/regions", {
      method: "POST", headers: { "Content-Type": "application/json" }, credentials: "same-origin",
      body: JSON.stringify({ name: regionName(), roi }),
    });
    if (r.status === 401 || r.status === 403) {
      document.getElementById("signin").hidden = false;
      out.textContent = "sign in first: " + (await r.text()).trim();
      return;
    }
    if (!r.ok) { out.textContent = "not applied: " + (await r.text()).trim(); return; }
    const res = await r.json();
    out.textContent = "applied: " + res.changed.join(", ") + " (kept in " + res.file + ")";
  } catch (err) {
    out.textContent = "not applied: " + err.message;
  }
});
