// photostyle editor: paints DPST label maps on canvases and talks to the editor's API.
//
// A mask is a label map (one byte per pixel: an index into the colour table), never colours
// blended by the canvas: strokes are exact DPST colours by construction. Every edit is sent
// (debounced) to the server, which brings both masks to the form the command line reads
// (segment.parse_color_mask), answers with the live weight-free result, and the page adopts
// that canonical form. Nothing is loaded from anywhere but this server.
"use strict";

const SID = document.querySelector('meta[name="photostyle-session"]').content;
const API = `/api/${SID}`;
const ROLES = ["content", "style"];
const PALETTE = [
  ["blue", [0, 0, 255]], ["green", [0, 255, 0]], ["black", [0, 0, 0]],
  ["white", [255, 255, 255]], ["red", [255, 0, 0]], ["yellow", [255, 255, 0]],
  ["grey", [128, 128, 128]], ["lightblue", [0, 255, 255]], ["purple", [255, 0, 255]],
];
const DEBOUNCE_MS = 60;
const UNDO_DEPTH = 40;
const POLL_MS = 400;

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// Measurements the browser tests read: edit -> live result shown, in ms.
window.photostyle = { timings: [], liveCount: 0, runState: "idle" };

// ---------------------------------------------------------------------------------- status

function setStatus(text, kind = "") {
  const el = $("#status");
  el.textContent = text;
  el.className = kind;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, { json, body, filename, method } = {}) {
  const options = { method: method || (json !== undefined || body !== undefined ? "POST" : "GET"),
                    headers: {} };
  if (json !== undefined) {
    options.body = JSON.stringify(json);
    options.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    options.body = body;
    options.headers["Content-Type"] = "application/octet-stream";
    if (filename) options.headers["X-Filename"] = encodeURIComponent(filename).slice(0, 200);
  }
  const response = await fetch(`${API}/${path}`, options);
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, (data && data.error) || response.statusText);
  return data;
}

function showWarnings(list) {
  if (list && list.length) setStatus(list.join(" · "), "busy");
}

// ---------------------------------------------------------------------------- colour table

const colors = [];          // [[r, g, b], ...]: index = label byte
const colorIndex = new Map(); // "r,g,b" -> index
let lut = new Uint32Array(256);
let current = 0;            // the brush's colour index

function colorName(rgb) {
  const hit = PALETTE.find(([, c]) => c[0] === rgb[0] && c[1] === rgb[1] && c[2] === rgb[2]);
  return hit ? hit[0] : "#" + rgb.map((v) => v.toString(16).padStart(2, "0")).join("");
}

function addColor(rgb) {
  const key = rgb.join(",");
  if (colorIndex.has(key)) return colorIndex.get(key);
  if (colors.length >= 255) throw new Error("too many colours (255 at most)");
  const i = colors.length;
  colors.push([rgb[0], rgb[1], rgb[2]]);
  colorIndex.set(key, i);
  lut[i] = (255 << 24 | rgb[2] << 16 | rgb[1] << 8 | rgb[0]) >>> 0;
  renderPalette();
  return i;
}

function renderPalette() {
  const box = $("#palette");
  box.textContent = "";
  colors.forEach((rgb, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.style.background = `rgb(${rgb.join(",")})`;
    b.title = colorName(rgb);
    b.dataset.color = colorName(rgb);
    b.setAttribute("aria-label", colorName(rgb));
    if (i === current) b.classList.add("active");
    b.addEventListener("click", () => selectColor(i));
    box.appendChild(b);
  });
}

function selectColor(i) {
  current = i;
  $$("#palette button").forEach((b, j) => b.classList.toggle("active", j === i));
  if (tool === "eraser") setTool("brush");
}

// --------------------------------------------------------------------------- base64 bytes

function bytesToBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function base64ToBytes(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

// ------------------------------------------------------------------------------- editors

let tool = "brush";
const undoStack = [];
const redoStack = [];

class MaskEditor {
  constructor(role) {
    this.role = role;
    this.panel = $(`.photo-panel[data-role="${role}"]`);
    this.panel.appendChild($("#photo-panel").content.cloneNode(true));
    $("h2 .title", this.panel).textContent = role === "content" ? "Content" : "Style";
    this.stage = $(".stage", this.panel);
    this.photoCanvas = $("canvas.photo", this.panel);
    this.maskCanvas = $("canvas.mask", this.panel);
    this.info = null;
    this.labels = null;   // Uint8Array of w*h label bytes
    this.initial = null;  // the starting mask (the eraser brings it back)
    this.pixels = null;   // the photo's RGBA at the mask's size (fill)
    this.stroke = null;
    const c = this.maskCanvas;
    c.addEventListener("pointerdown", (e) => this.down(e));
    c.addEventListener("pointermove", (e) => this.move(e));
    c.addEventListener("pointerup", (e) => this.up(e));
    c.addEventListener("pointercancel", (e) => this.up(e));
  }

  get width() { return this.info ? this.info.mask_width : 0; }
  get height() { return this.info ? this.info.mask_height : 0; }

  async setPhoto(info) {
    this.info = info;
    this.labels = this.initial = null;
    $("h2 .name", this.panel).textContent = `${info.name} · ${info.width}×${info.height}`;
    const image = new Image();
    image.src = `${API}/photo/${this.role}/image.jpg?t=${Date.now()}`;
    await image.decode();
    for (const c of [this.photoCanvas, this.maskCanvas]) {
      c.width = this.width;
      c.height = this.height;
    }
    const ctx = this.photoCanvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(image, 0, 0, this.width, this.height);
    this.pixels = ctx.getImageData(0, 0, this.width, this.height).data;
    this.maskCanvas.getContext("2d").clearRect(0, 0, this.width, this.height);
    this.stage.classList.add("loaded");
    if (this.role === "content") {
      $("#before").src = image.src;
    }
  }

  // Adopt a payload from the server; `start`: it is a new starting mask (eraser target).
  setMask(payload, start) {
    if (!payload || !this.info) return false;
    if (payload.width !== this.width || payload.height !== this.height) return false;
    const map = new Uint8Array(256);
    payload.colors.forEach((rgb, i) => { map[i] = addColor(rgb); });
    const raw = base64ToBytes(payload.labels);
    const labels = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) labels[i] = map[raw[i]];
    const changed = !this.labels || !sameBytes(labels, this.labels);
    this.labels = labels;
    if (start || !this.initial) this.initial = labels.slice();
    if (changed) this.render();
    return changed;
  }

  payload() {
    if (!this.labels) return null;
    return { width: this.width, height: this.height, colors: colors.map((c) => c.slice()),
             labels: bytesToBase64(this.labels) };
  }

  render(x0 = 0, y0 = 0, x1 = this.width, y1 = this.height) {
    if (!this.labels) return;
    x0 = Math.max(0, Math.floor(x0)); y0 = Math.max(0, Math.floor(y0));
    x1 = Math.min(this.width, Math.ceil(x1)); y1 = Math.min(this.height, Math.ceil(y1));
    const w = x1 - x0, h = y1 - y0;
    if (w <= 0 || h <= 0) return;
    const data = new ImageData(w, h);
    const out = new Uint32Array(data.data.buffer);
    for (let y = 0; y < h; y++) {
      const row = (y + y0) * this.width + x0;
      for (let x = 0; x < w; x++) out[y * w + x] = lut[this.labels[row + x]];
    }
    this.maskCanvas.getContext("2d").putImageData(data, x0, y0);
  }

  point(e) {
    const r = this.maskCanvas.getBoundingClientRect();
    return [(e.clientX - r.left) * this.width / r.width, (e.clientY - r.top) * this.height / r.height];
  }

  // Stamp a disc of radius r at (cx, cy): the brush colour, or the starting mask (eraser).
  stamp(cx, cy, r) {
    const x0 = Math.max(0, Math.floor(cx - r)), x1 = Math.min(this.width - 1, Math.ceil(cx + r));
    const y0 = Math.max(0, Math.floor(cy - r)), y1 = Math.min(this.height - 1, Math.ceil(cy + r));
    const r2 = r * r;
    for (let y = y0; y <= y1; y++) {
      const dy = y + 0.5 - cy;
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - cx;
        if (dx * dx + dy * dy > r2) continue;
        const i = y * this.width + x;
        this.labels[i] = tool === "eraser" ? this.initial[i] : current;
      }
    }
    this.render(x0, y0, x1 + 1, y1 + 1);
  }

  line(a, b, r) {
    const dist = Math.hypot(b[0] - a[0], b[1] - a[1]);
    const steps = Math.max(1, Math.ceil(dist / Math.max(1, r / 3)));
    for (let s = 1; s <= steps; s++) {
      this.stamp(a[0] + (b[0] - a[0]) * s / steps, a[1] + (b[1] - a[1]) * s / steps, r);
    }
  }

  down(e) {
    if (!this.labels || e.button !== 0) return;
    e.preventDefault();
    pushUndo(this);
    const p = this.point(e);
    if (tool === "fill") {
      this.fill(Math.floor(p[0]), Math.floor(p[1]));
      edited();
      return;
    }
    this.maskCanvas.setPointerCapture(e.pointerId);
    this.stroke = p;
    this.stamp(p[0], p[1], brushRadius());
  }

  move(e) {
    if (!this.stroke) return;
    const p = this.point(e);
    this.line(this.stroke, p, brushRadius());
    this.stroke = p;
  }

  up(e) {
    if (!this.stroke) return;
    this.stroke = null;
    try { this.maskCanvas.releasePointerCapture(e.pointerId); } catch (err) { /* released */ }
    edited();
  }

  // The 4-connected pixels of the clicked label whose photo colour is within the tolerance
  // of the clicked pixel's get the brush colour.
  fill(x, y) {
    const w = this.width, h = this.height;
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    const tol = Number($("#fill-tolerance").value);
    const start = y * w + x, label = this.labels[start], px = this.pixels;
    const r0 = px[start * 4], g0 = px[start * 4 + 1], b0 = px[start * 4 + 2];
    const near = (i) => tol >= 255 || (Math.abs(px[i * 4] - r0) <= tol
      && Math.abs(px[i * 4 + 1] - g0) <= tol && Math.abs(px[i * 4 + 2] - b0) <= tol);
    const seen = new Uint8Array(w * h);
    const stack = [start];
    seen[start] = 1;
    while (stack.length) {
      const i = stack.pop();
      this.labels[i] = current;
      const cx = i % w;
      for (const j of [cx > 0 ? i - 1 : -1, cx < w - 1 ? i + 1 : -1, i - w, i + w]) {
        if (j < 0 || j >= w * h || seen[j]) continue;
        seen[j] = 1;
        if (this.labels[j] === label && near(j)) stack.push(j);
      }
    }
    this.render();
  }
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function brushRadius() { return Number($("#brush-size").value) / 2; }

const editors = Object.fromEntries(ROLES.map((r) => [r, new MaskEditor(r)]));

function pushUndo(editor) {
  undoStack.push({ editor, labels: editor.labels.slice() });
  if (undoStack.length > UNDO_DEPTH) undoStack.shift();
  redoStack.length = 0;
  updateUndo();
}

function undoRedo(from, to) {
  const item = from.pop();
  if (!item || !item.editor.labels || item.labels.length !== item.editor.labels.length) {
    updateUndo();
    return;
  }
  to.push({ editor: item.editor, labels: item.editor.labels.slice() });
  item.editor.labels = item.labels;
  item.editor.render();
  updateUndo();
  edited();
}

function updateUndo() {
  $("#undo").disabled = !undoStack.length;
  $("#redo").disabled = !redoStack.length;
}

function setTool(name) {
  tool = name;
  $$("[data-tool]").forEach((b) => b.classList.toggle("active", b.dataset.tool === name));
}

// ------------------------------------------------------------------------- live result

let version = 0;
let inflight = false;
let timer = null;
const editTimes = new Map();

function bothLoaded() { return ROLES.every((r) => editors[r].info); }

function edited() {
  version += 1;
  editTimes.set(version, performance.now());
  clearTimeout(timer);
  timer = setTimeout(sendLive, DEBOUNCE_MS);
}

// Send the masks now and wait until the server has them (before saving or running).
async function flushLive() {
  clearTimeout(timer);
  while (inflight) await new Promise((r) => setTimeout(r, 20));
  await sendLive();
}

async function sendLive() {
  if (!bothLoaded()) return;
  if (inflight) return;
  inflight = true;
  const sent = version;
  try {
    const body = { version: sent };
    for (const r of ROLES) body[r] = editors[r].payload();
    const res = await api("live", { json: body });
    const img = $("#live");
    img.src = res.image;
    await img.decode();
    $("#live-panel .stage").classList.add("loaded");
    const now = performance.now();
    for (const [v, t] of editTimes) {
      if (v <= sent) {
        window.photostyle.timings.push({ version: v, ms: now - t, server: res.seconds });
        editTimes.delete(v);
      }
    }
    window.photostyle.liveCount += 1;
    $("#live-time").textContent = `${Math.round(res.seconds.total * 1000)} ms on the server`;
    if (version === sent) {
      for (const r of ROLES) editors[r].setMask(res.masks[r], false);
    }
    renderLegend(res.legend, res.warnings);
    $("#save-masks").disabled = false;
    $("#run").disabled = runActive;
    if ($("#status").className === "error") setStatus("ready");
  } catch (err) {
    setStatus(err.message, "error");
  } finally {
    inflight = false;
  }
  if (version !== sent) sendLive();
}

function renderLegend(rows, warnings) {
  const body = $("#legend tbody");
  body.textContent = "";
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.dataset.color = row.name;
    const note = row.where === "content" ? "⚠ only in the content: matched to the whole style"
      : row.where === "style" ? "⚠ only in the style: ignored" : "";
    tr.innerHTML = `<td><div class="swatch"></div></td><td></td><td></td><td></td><td class="warn"></td>`;
    tr.cells[0].firstChild.style.background = `rgb(${row.color.join(",")})`;
    tr.cells[1].textContent = row.name;
    tr.cells[2].textContent = row.content ? `${(100 * row.content).toFixed(1)}%` : "—";
    tr.cells[3].textContent = row.style ? `${(100 * row.style).toFixed(1)}%` : "—";
    tr.cells[4].textContent = note;
    tr.addEventListener("click", () => selectColor(addColor(row.color)));
    body.appendChild(tr);
  }
  if (!rows.length) {
    body.innerHTML = `<tr><td></td><td colspan="4">one region: the whole images are matched</td></tr>`;
  }
  const list = $("#warnings");
  list.textContent = "";
  for (const w of warnings || []) {
    const li = document.createElement("li");
    li.textContent = w;
    list.appendChild(li);
  }
}

// ---------------------------------------------------------------------- loading photos

async function loadPhoto(role, load) {
  setStatus(`loading the ${role} photo…`, "busy");
  try {
    const info = await load();
    await editors[role].setPhoto(info);
    showWarnings(info.warnings);
    if ($("#status").className === "busy" && !(info.warnings || []).length) setStatus("ready");
    if (bothLoaded()) edited();
    else setStatus(`now load the ${role === "content" ? "style" : "content"} photo`);
  } catch (err) {
    setStatus(err.message, "error");
  }
}

async function loadMask(role, load) {
  if (!editors[role].info) { setStatus(`load the ${role} photo first`, "error"); return; }
  setStatus(`reading the ${role} mask…`, "busy");
  try {
    const res = await load();
    if (editors.content.labels || editors.style.labels) {
      for (const r of ROLES) if (editors[r].labels) pushUndo(editors[r]);
    }
    editors[role].setMask(res.masks[role], true);
    for (const r of ROLES) if (r !== role && !editors[r].labels) editors[r].setMask(res.masks[r], true);
    setStatus("mask loaded");
    showWarnings(res.warnings);
    edited();
  } catch (err) {
    setStatus(err.message, "error");
  }
}

async function startMasks(method) {
  if (!bothLoaded()) { setStatus("load both photos first", "error"); return; }
  setStatus(method === "none" ? "one region each" : `making ${method} masks…`, "busy");
  try {
    const res = await api("masks/auto", { json: { method } });
    for (const r of ROLES) if (editors[r].labels) pushUndo(editors[r]);
    for (const r of ROLES) editors[r].setMask(res.masks[r], true);
    setStatus(`masks from ${method}`);
    showWarnings(res.warnings);
    edited();
  } catch (err) {
    setStatus(err.message, "error");
  }
}

function fillSelect(select, files) {
  for (const name of files) {
    const option = document.createElement("option");
    option.value = option.textContent = name;
    select.appendChild(option);
  }
  select.hidden = !files.length;
}

// ---------------------------------------------------------------------------- full run

let runActive = false;
let shownImage = 0;

function runOptions() {
  const form = $("#run-form");
  const data = {};
  for (const name of ["quality", "size", "weights", "matting_weight", "iters"]) {
    const value = form.elements[name].value.trim();
    if (value !== "") data[name] = name === "size" ? Number(value) : value;
  }
  return data;
}

function lossText(losses) {
  return Object.entries(losses || {}).map(([k, v]) => `${k} ${v.toExponential(2)}`).join("  ");
}

function showRun(s) {
  window.photostyle.runState = s.state;
  const el = $("#run-status");
  el.className = s.state === "failed" ? "error" : "";
  let text = s.message || s.state;
  if (s.state === "running" && s.step) {
    text = `level ${s.level}/${s.levels} · stage ${s.stage} · step ${s.step}/${s.steps} · ${lossText(s.losses)}`;
    $("#run-progress").value = (s.level - 1 + s.step / s.steps) / s.levels;
  }
  el.textContent = `${text} · ${s.elapsed.toFixed(1)} s`;
  if (s.image_version && s.image_version !== shownImage) {
    shownImage = s.image_version;
    $("#run-image").src = `${API}/run/image.jpg?v=${shownImage}`;
  }
  const wasActive = runActive;
  runActive = s.state === "starting" || s.state === "running";
  if (wasActive && !runActive) {
    setStatus(s.state === "done" ? "full run done" : s.state === "cancelled"
      ? "full run cancelled: the result is the best image so far" : "full run failed",
    s.state === "failed" ? "error" : "");
  }
  $("#run").disabled = runActive || !bothLoaded();
  $("#cancel").disabled = !runActive;
  if (!runActive && (s.outputs || []).length) {
    $("#run-progress").value = 1;
    const list = $("#downloads");
    list.textContent = "";
    for (const name of [...s.outputs, "content_mask.png", "style_mask.png"]) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `${API}/download/${name}`;
      a.download = name;
      a.textContent = name;
      li.appendChild(a);
      list.appendChild(li);
    }
  }
}

async function pollRun() {
  try {
    const s = await api("run");
    showRun(s);
    if (runActive) setTimeout(pollRun, POLL_MS);
  } catch (err) {
    setStatus(err.message, "error");
  }
}

async function startRun(e) {
  e.preventDefault();
  try {
    await flushLive();
    $("#downloads").textContent = "";
    $("#run-progress").value = 0;
    const res = await api("run", { json: runOptions() });
    showRun(res.status);
    setStatus("full run started");
    setTimeout(pollRun, POLL_MS);
  } catch (err) {
    setStatus(err.message, err.status === 409 ? "busy" : "error");
  }
}

async function saveMasks() {
  try {
    await flushLive();
    const res = await api("masks/save", { json: {} });
    const box = $("#mask-links");
    box.textContent = "";
    for (const name of res.files) {
      const a = document.createElement("a");
      a.href = `${API}/download/${name}`;
      a.download = name;
      a.textContent = name;
      box.appendChild(a);
    }
    setStatus("masks saved (DPST colours, the photos' sizes)");
    showWarnings(res.warnings);
  } catch (err) {
    setStatus(err.message, "error");
  }
}

// ------------------------------------------------------------------------------- wiring

async function init() {
  PALETTE.forEach(([, rgb]) => addColor(rgb));
  selectColor(0);
  for (const role of ROLES) {
    const panel = editors[role].panel;
    $('input[data-load="photo"]', panel).addEventListener("change", (e) => {
      const file = e.target.files[0];
      e.target.value = "";
      if (file) loadPhoto(role, () => api(`photo/${role}`, { body: file, filename: file.name }));
    });
    $('input[data-load="mask"]', panel).addEventListener("change", (e) => {
      const file = e.target.files[0];
      e.target.value = "";
      if (file) loadMask(role, () => api(`mask/${role}`, { body: file, filename: file.name }));
    });
    $('select[data-open="photo"]', panel).addEventListener("change", (e) => {
      const path = e.target.value;
      e.target.value = "";
      if (path) loadPhoto(role, () => api(`photo/${role}/open`, { json: { path } }));
    });
    $('select[data-open="mask"]', panel).addEventListener("change", (e) => {
      const path = e.target.value;
      e.target.value = "";
      if (path) loadMask(role, () => api(`mask/${role}/open`, { json: { path } }));
    });
  }
  $$("[data-method]").forEach((b) => b.addEventListener("click", () => startMasks(b.dataset.method)));
  $$("[data-tool]").forEach((b) => b.addEventListener("click", () => setTool(b.dataset.tool)));
  $("#undo").addEventListener("click", () => undoRedo(undoStack, redoStack));
  $("#redo").addEventListener("click", () => undoRedo(redoStack, undoStack));
  for (const id of ["brush-size", "fill-tolerance"]) {
    const input = $(`#${id}`);
    input.addEventListener("input", () => { $(`#${id}-out`).textContent = input.value; });
  }
  const opacity = () => $$("canvas.mask").forEach((c) => { c.style.opacity = $("#opacity").value / 100; });
  $("#opacity").addEventListener("input", opacity);
  const compare = () => { $("#live").style.clipPath = `inset(0 ${100 - $("#compare").value}% 0 0)`; };
  $("#compare").addEventListener("input", compare);
  compare();
  $("#run-form").addEventListener("submit", startRun);
  $("#cancel").addEventListener("click", async () => {
    try { showRun(await api("run/cancel", { json: {} })); } catch (err) { setStatus(err.message, "error"); }
  });
  $("#save-masks").addEventListener("click", saveMasks);
  document.addEventListener("keydown", (e) => {
    if (e.target.matches("input[type=text], input[type=number], select")) return;
    const key = e.key.toLowerCase();
    if ((e.ctrlKey || e.metaKey) && key === "z") { e.preventDefault(); if (e.shiftKey) undoRedo(redoStack, undoStack); else undoRedo(undoStack, redoStack); }
    else if ((e.ctrlKey || e.metaKey) && key === "y") { e.preventDefault(); undoRedo(redoStack, undoStack); }
    else if (key === "b") setTool("brush");
    else if (key === "e") setTool("eraser");
    else if (key === "f") setTool("fill");
  });
  try {
    const info = await api("info");
    const form = $("#run-form");
    for (const q of info.qualities) {
      const option = document.createElement("option");
      option.value = option.textContent = q;
      form.elements.quality.appendChild(option);
    }
    form.elements.quality.value = info.quality;
    form.elements.size.value = info.size;
    form.elements.size.max = info.work_side;
    form.elements.matting_weight.placeholder = String(info.lambda);
    $$('select[data-open]').forEach((s) => fillSelect(s, info.files));
  } catch (err) {
    setStatus(err.message, "error");
  }
  window.photostyle.ready = true;
}

init();
