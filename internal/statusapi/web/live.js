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
  const dl = el("dl");
  c.append(h, img, dl);
  document.getElementById("cameras").append(c);
  const cam = { card: c, img, dl, frames: 0, at: 0, fps: 0, busy: false };
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

function row(dl, k, v) {
  dl.append(el("dt", {}, k), el("dd", {}, v));
}

async function poll() {
  let s;
  try {
    const r = await fetch("/healthz", { cache: "no-store" });
    s = await r.json();
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
      if (dt > 0) cam.fps = 0.5 * cam.fps + 0.5 * ((inf.frames - cam.frames) / dt);
    }
    cam.frames = inf.frames;
    cam.at = now;
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
