// lrlab designer: the page draws what the Python side computes (POST /api/plot, /api/at,
// /api/export). No learning-rate formula lives here: the page maps pixels to steps and LRs,
// turns handle drags into design knobs, and keeps the whole state in the URL's hash.
"use strict";

const COLORS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
const SVG_NS = "http://www.w3.org/2000/svg";
const MARGIN = { left: 72, right: 18, top: 16, bottom: 42 };
const HANDLE_NAMES = {
  warmup_end: "warmup end", peak: "peak", decay_start: "decay start", decay_end: "decay end",
};
const SHAPE_NAMES = {
  cosine: "cosine", linear: "linear", wsd: "WSD", step: "step", exponential: "exponential",
  onecycle: "1cycle", sgdr: "SGDR", constant: "constant",
};
const COOLDOWN_NAMES = {
  one_minus_sqrt: "1-sqrt", linear: "linear", cosine: "cosine", one_minus_square: "1-square",
  geometric: "exponential",
};
const KNOBS = [
  // [key, label, applies to shapes (null: all), kind]
  ["peak", "peak LR", null, "lr"],
  ["final", "final LR", ["cosine", "linear", "wsd", "step", "exponential", "onecycle", "sgdr"], "lr"],
  ["start", "LR at step 0", null, "lr"],
  ["warmup", "warmup end", null, "step"],
  ["decay_start", "decay start", ["cosine", "linear", "wsd", "step", "exponential", "sgdr"], "step"],
  ["decay_end", "decay end", null, "step"],
  ["cooldown", "cooldown shape", ["wsd"], "cooldown"],
  ["drops", "drops", ["step"], "int"],
  ["cycles", "cycles", ["sgdr"], "int"],
  ["mult", "cycle ×", ["sgdr"], "num"],
];

const $ = (id) => document.getElementById(id);

let meta = null;           // GET /api/meta
let state = null;          // {layers: [{spec, budget}], active, x, log}
let plot = null;           // the last good POST /api/plot answer
let frozen = null;         // axes kept still while a handle is dragged
let drag = null;           // the handle being dragged
let exportTo = "torch";
let keyHandle = null;      // the handle moved with the keyboard last
let inflight = false, queued = null;
let goodLayers = null;     // the layers of the last answer that drew: restored after a refusal

// --- state and URL ----------------------------------------------------------------------------

function defaultState() {
  return { layers: [{ spec: meta.default_spec, budget: null }], active: 0, x: "steps", log: false, view: null };
}

function readHash() {
  const text = decodeURIComponent(location.hash.replace(/^#/, ""));
  if (!text) return null;
  try {
    const s = JSON.parse(text);
    if (!Array.isArray(s.layers) || !s.layers.length) return null;
    const layers = s.layers.slice(0, meta.limits.layers)
      .filter((l) => l && typeof l.spec === "string")
      .map((l) => ({ spec: l.spec, budget: l.budget && typeof l.budget === "object" ? l.budget : null }));
    if (!layers.length) return null;
    const active = Number.isInteger(s.active) && s.active >= 0 && s.active < layers.length ? s.active : 0;
    const x = ["steps", "percent", "tokens"].includes(s.x) ? s.x : "steps";
    const view = Array.isArray(s.view) && s.view.length === 2 && s.view.every(Number.isFinite) && s.view[1] > s.view[0]
      && s.view[0] >= 0 ? s.view : null;
    return { layers, active, x, log: !!s.log, view };
  } catch (e) {
    return null;
  }
}

function writeHash() {
  const compact = {
    layers: state.layers.map((l) => (l.budget ? { spec: l.spec, budget: l.budget } : { spec: l.spec })),
    active: state.active, x: state.x, log: state.log,
  };
  if (state.view) compact.view = state.view;
  history.replaceState(null, "", "#" + encodeURIComponent(JSON.stringify(compact)));
}

// --- talking to the Python side -----------------------------------------------------------------

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data;
  try {
    data = await response.json();
  } catch (e) {
    data = { error: `the server answered ${response.status} without JSON` };
  }
  if (!response.ok) {
    const error = new Error(data.error || `HTTP ${response.status}`);
    error.field = data.field;
    error.status = response.status;
    throw error;
  }
  return data;
}

function layerRequest(layer) {
  const out = layer.design ? { design: layer.design } : { spec: layer.spec };
  if (layer.budget) out.budget = layer.budget;
  return out;
}

// Ask for the curves; while one request runs, only the newest next one is kept.
function refresh(options = {}) {
  queued = options;
  if (!inflight) pump();
}

async function pump() {
  document.body.dataset.busy = "1";
  while (queued) {
    const options = queued;
    queued = null;
    inflight = true;
    const sent = state.layers.map((l) => l.design);
    const body = { layers: state.layers.map(layerRequest), points: Math.min(meta.limits.points, chartWidth() * 2), x: state.x };
    const tps = activeTokensPerStep();
    if (tps) body.tokens_per_step = tps;
    const view = frozen ? frozen.range : state.view;
    if (view) {
      body.start = view[0];
      body.end = view[1];
    }
    try {
      const answer = await api("/api/plot", body);
      answer.layers.forEach((info, i) => {
        const layer = state.layers[i];
        if (!layer) return;
        if (layer.design && layer.design === sent[i]) {
          layer.spec = info.spec;      // a design is stored as its text form
          delete layer.design;
        }
      });
      plot = answer;
      document.body.dataset.drawn = String(Number(document.body.dataset.drawn || 0) + 1);
      goodLayers = JSON.parse(JSON.stringify(state.layers));
      setError("");
      writeHash();
      render(options);
    } catch (error) {
      if (plot && state.x !== plot.x) state.x = plot.x;  // an x unit that cannot be drawn is undone
      if (goodLayers) {
        state.layers = JSON.parse(JSON.stringify(goodLayers));
        state.active = Math.min(state.active, state.layers.length - 1);
      } else {
        state.layers.forEach((l) => delete l.design);
      }
      showRequestError(error);
    }
    inflight = false;
  }
  document.body.dataset.busy = drag ? "1" : "0";
}

// tokens per step for layers that have none (x in tokens): the edited schedule's
function activeTokensPerStep() {
  const layer = state.layers[state.active];
  if (layer && layer.budget && layer.budget.tokens_per_step) return layer.budget.tokens_per_step;
  const info = plot && plot.layers[state.active];
  return info ? info.tokens_per_step : null;
}

function scaleOf(i) {
  const info = plot && plot.layers[i];
  return info ? info.x_scale : 1;
}

function showRequestError(error) {
  const match = /^layers\[(\d+)\]/.exec(error.field || "");
  const which = match ? Number(match[1]) : state.active;
  setError(which === state.active ? error.message : `schedule ${which + 1}: ${error.message}`);
}

function setError(message) {
  $("spec-error").textContent = message;
  $("spec").classList.toggle("bad", !!message);
}

function setStatus(message) {
  $("status").textContent = message;
}

// --- scales -------------------------------------------------------------------------------------

function chartWidth() {
  return Math.max(320, Math.round($("chart-box").clientWidth || 800));
}

function niceTicks(lo, hi, count) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || 10 * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(v);
  return ticks;
}

function axes() {
  if (frozen) return frozen;
  const [start, end] = plot.range;
  let top = 0, low = Infinity;
  for (const info of plot.layers) {
    for (const v of info.lr) {
      if (v === null) continue;
      if (v > top) top = v;
      if (v > 0 && v < low) low = v;
    }
  }
  if (!(top > 0)) top = 1;
  const log = state.log;
  if (log) {
    if (!(low < Infinity)) low = top / 1000;
    const lo = Math.pow(10, Math.floor(Math.log10(low)));
    const hi = Math.pow(10, Math.ceil(Math.log10(top * 1.0001)));
    return { range: [start, end], y: [lo, hi], log };
  }
  return { range: [start, end], y: [0, top * 1.08], log };
}

function scales(ax) {
  const width = chartWidth(), height = 420;
  const x0 = MARGIN.left, x1 = width - MARGIN.right, y0 = height - MARGIN.bottom, y1 = MARGIN.top;
  const [s0, s1] = ax.range;
  const x = (step) => x0 + ((step - s0) / (s1 - s0)) * (x1 - x0);
  const xInv = (px) => s0 + ((px - x0) / (x1 - x0)) * (s1 - s0);
  let y, yInv;
  if (ax.log) {
    const l0 = Math.log10(ax.y[0]), l1 = Math.log10(ax.y[1]);
    y = (v) => y0 + ((Math.log10(v) - l0) / (l1 - l0)) * (y1 - y0);
    yInv = (py) => Math.pow(10, l0 + ((py - y0) / (y1 - y0)) * (l1 - l0));
  } else {
    y = (v) => y0 + ((v - ax.y[0]) / (ax.y[1] - ax.y[0])) * (y1 - y0);
    yInv = (py) => ax.y[0] + ((py - y0) / (y1 - y0)) * (ax.y[1] - ax.y[0]);
  }
  return { width, height, x0, x1, y0, y1, x, xInv, y, yInv };
}

// --- formatting ---------------------------------------------------------------------------------

function activeInfo() {
  return plot ? plot.layers[state.active] : null;
}

function short(n) {
  const a = Math.abs(n);
  for (const [size, suffix] of [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]]) {
    if (a >= size) return `${+(n / size).toPrecision(3)}${suffix}`;
  }
  return `${+n.toPrecision(4)}`;
}

function xLabel(x) {
  if (plot && plot.x === "percent") return `${+x.toPrecision(3)}%`;
  return short(x);
}

function xTitle() {
  if (plot && plot.x === "percent") return "% of each schedule's run";
  if (plot && plot.x === "tokens") return "tokens";
  return "step";
}

function lrText(v, digits = 4) {
  if (v === null || v === undefined) return "—";
  if (v === 0) return "0";
  if (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4) {
    const [mantissa, exponent] = v.toExponential(digits - 1).split("e");
    return `${+mantissa}e${exponent.replace("+", "")}`;
  }
  return `${+v.toPrecision(digits)}`;
}

function stepText(step) {
  const info = activeInfo();
  let text = `step ${Math.round(step).toLocaleString("en-US")}`;
  if (info && state.x === "percent") text += ` (${+((100 * step) / info.total).toPrecision(4)}%)`;
  if (info && state.x === "tokens" && info.tokens_per_step) text += ` (${short(step * info.tokens_per_step)} tokens)`;
  return text;
}

// --- drawing ------------------------------------------------------------------------------------

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function render(options = {}) {
  if (!plot) return;
  const ax = axes();
  const sc = scales(ax);
  const svg = $("chart");
  svg.setAttribute("viewBox", `0 0 ${sc.width} ${sc.height}`);
  svg.setAttribute("width", sc.width);
  svg.setAttribute("height", sc.height);
  svg.replaceChildren();
  const grid = el("g", { class: "grid" }, svg);
  const xticks = niceTicks(ax.range[0], ax.range[1], Math.max(3, Math.floor(sc.width / 110)));
  for (const t of xticks) {
    el("line", { x1: sc.x(t), x2: sc.x(t), y1: sc.y0, y2: sc.y1 }, grid);
    el("text", { x: sc.x(t), y: sc.y0 + 18, class: "tick x" }, svg).textContent = xLabel(t);
  }
  let yticks;
  if (ax.log) {
    yticks = [];
    for (let e = Math.round(Math.log10(ax.y[0])); e <= Math.round(Math.log10(ax.y[1])); e++) yticks.push(Math.pow(10, e));
  } else {
    yticks = niceTicks(ax.y[0], ax.y[1], 6);
  }
  for (const t of yticks) {
    el("line", { x1: sc.x0, x2: sc.x1, y1: sc.y(t), y2: sc.y(t) }, grid);
    el("text", { x: sc.x0 - 8, y: sc.y(t) + 4, class: "tick y" }, svg).textContent = lrText(t, 3);
  }
  el("line", { x1: sc.x0, x2: sc.x1, y1: sc.y0, y2: sc.y0, class: "axis" }, svg);
  el("line", { x1: sc.x0, x2: sc.x0, y1: sc.y0, y2: sc.y1, class: "axis" }, svg);
  el("text", { x: (sc.x0 + sc.x1) / 2, y: sc.height - 6, class: "title" }, svg).textContent = xTitle();
  el("text", { x: 14, y: (sc.y0 + sc.y1) / 2, class: "title", transform: `rotate(-90 14 ${(sc.y0 + sc.y1) / 2})` }, svg)
    .textContent = "learning rate";

  const clip = el("clipPath", { id: "plot-area" }, el("defs", {}, svg));
  el("rect", { x: sc.x0, y: sc.y1 - 8, width: sc.x1 - sc.x0 + 8, height: sc.y0 - sc.y1 + 8 }, clip);
  const curves = el("g", { "clip-path": "url(#plot-area)" }, svg);
  // the active schedule last, so it is drawn on top
  const order = plot.layers.map((_, i) => i).filter((i) => i !== state.active).concat([state.active]);
  for (const i of order) {
    const info = plot.layers[i];
    if (!info) continue;
    let d = "", pen = false;
    for (let k = 0; k < info.steps.length; k++) {
      const v = info.lr[k];
      if (v === null || (ax.log && !(v > 0))) { pen = false; continue; }
      const px = sc.x(info.x[k]).toFixed(2), py = Math.max(-1e4, Math.min(1e4, sc.y(v))).toFixed(2);
      d += `${pen ? "L" : "M"}${px},${py}`;
      pen = true;
    }
    el("path", {
      d, class: `curve${i === state.active ? " active" : ""}`, stroke: COLORS[i % COLORS.length],
      "data-layer": i, "data-spec": info.resolved,
    }, curves);
  }
  const info = activeInfo();
  if (info && info.handles) drawHandles(svg, sc, info.handles);
  el("line", { id: "crosshair", x1: 0, x2: 0, y1: sc.y0, y2: sc.y1, visibility: "hidden" }, svg);
  el("g", { id: "dots" }, svg);
  if (!options.keepControls) syncControls();
}

// Where a handle is drawn: on the curve, except the peak (on the LR axis, at the peak's
// level) and the decay start (on the step axis, below where the decay begins).
function handlePos(name, h, sc) {
  const x = sc.x(h.step * scaleOf(state.active));
  if (name === "peak") return [sc.x0, sc.y(Math.max(h.lr, frozenLow()))];
  if (name === "decay_start") return [x, sc.y0];
  return [x, sc.y(Math.max(h.lr, frozenLow()))];
}

function drawHandles(svg, sc, handles) {
  const group = el("g", { class: "handles" }, svg);
  for (const [name, h] of Object.entries(handles)) {
    const at = drag && drag.name === name && drag.px ? drag.px : handlePos(name, h, sc);
    if (name === "peak") el("line", { x1: sc.x0, x2: sc.x(h.step * scaleOf(state.active)), y1: at[1], y2: at[1], class: "guide" }, group);
    else if (name === "decay_start") el("line", { x1: at[0], x2: at[0], y1: sc.y(Math.max(h.lr, frozenLow())), y2: sc.y0, class: "guide" }, group);
    else el("line", { x1: at[0], x2: at[0], y1: at[1], y2: sc.y0, class: "guide" }, group);
    const c = el("circle", {
      cx: at[0], cy: at[1], r: 7, class: `handle ${h.moves} ${name}`, "data-handle": name, tabindex: 0,
    }, group);
    if (keyHandle === name) setTimeout(() => c.focus(), 0);
    el("title", {}, c).textContent = `${HANDLE_NAMES[name]}: ${stepText(h.step)}, LR ${lrText(h.lr)} (drag ${
      h.moves === "x" ? "sideways" : h.moves === "y" ? "up or down" : "in any direction"})`;
  }
}

function frozenLow() {
  const ax = axes();
  return ax.log ? ax.y[0] : -Infinity;
}

// --- controls -----------------------------------------------------------------------------------

function syncControls() {
  const info = activeInfo();
  renderLayers();
  if (!info) return;
  const spec = $("spec");
  if (document.activeElement !== spec) spec.value = info.spec;
  const design = info.design;
  $("not-design").hidden = !!design;
  for (const button of $("shapes").querySelectorAll("button")) {
    button.setAttribute("aria-checked", design && design.shape === button.dataset.shape ? "true" : "false");
  }
  renderKnobs(design);
  const s = info.summary;
  const parts = [s.shape, `peak ${lrText(s.peak)}`];
  parts.push(s.final === null ? "endless" : `final ${lrText(s.final)} at step ${short(s.length)}`);
  if (info.preset) parts.unshift(`${info.preset.name} (${info.preset.citation.split(",")[0]})`);
  $("summary").textContent = parts.join(" · ");
  const budget = info.budget || {};
  for (const [id, key] of [["b-total", "total_steps"], ["b-tps", "tokens_per_step"], ["b-spe", "steps_per_epoch"]]) {
    if (document.activeElement !== $(id)) $(id).value = budget[key] === null || budget[key] === undefined ? "" : budget[key];
  }
  const tokens = $("x-unit").querySelector('option[value="tokens"]');
  tokens.disabled = !info.tokens_per_step && state.x !== "tokens";
  tokens.textContent = info.tokens_per_step ? "tokens" : "tokens (give tokens / step)";
  $("x-unit").value = state.x;
  $("reset-zoom").hidden = !state.view;
  $("log-y").checked = state.log;
  loadExport();
}

function renderLayers() {
  const list = $("layers");
  list.replaceChildren();
  state.layers.forEach((layer, i) => {
    const info = plot && plot.layers[i];
    const item = document.createElement("li");
    item.className = i === state.active ? "active" : "";
    item.dataset.layer = i;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = COLORS[i % COLORS.length];
    const name = document.createElement("button");
    name.type = "button";
    name.className = "layer-name";
    name.textContent = info ? (info.preset ? info.preset.name : info.spec) : layer.spec;
    name.title = "edit this schedule";
    name.addEventListener("click", () => { state.active = i; writeHash(); render(); });
    item.append(swatch, name);
    if (state.layers.length > 1) {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove";
      remove.textContent = "×";
      remove.title = "remove this schedule";
      remove.setAttribute("aria-label", `remove schedule ${i + 1}`);
      remove.addEventListener("click", () => {
        state.layers.splice(i, 1);
        state.active = Math.min(state.active, state.layers.length - 1);
        refresh();
      });
      item.append(remove);
    }
    list.append(item);
  });
  $("add-layer").disabled = state.layers.length >= meta.limits.layers;
}

function renderKnobs(design) {
  const box = $("knobs");
  box.replaceChildren();
  if (!design) return;
  for (const [key, label, shapes, kind] of KNOBS) {
    if (shapes && !shapes.includes(design.shape)) continue;
    const wrap = document.createElement("label");
    wrap.textContent = design.shape === "constant" && key === "decay_end" ? "end" : label;
    let input;
    if (kind === "cooldown") {
      input = document.createElement("select");
      for (const c of meta.cooldowns) {
        const o = document.createElement("option");
        o.value = c;
        o.textContent = COOLDOWN_NAMES[c] || c;
        input.append(o);
      }
      input.value = design[key];
    } else {
      input = document.createElement("input");
      input.type = "text";
      input.inputMode = "decimal";
      input.value = kind === "step" ? +(+design[key]).toFixed(3) : design[key];
    }
    input.id = `knob-${key}`;
    input.dataset.knob = key;
    input.addEventListener("change", () => {
      const next = Object.assign({}, currentDesign());
      if (kind === "cooldown") next[key] = input.value;
      else {
        const v = Number(input.value);
        if (input.value.trim() === "" || !Number.isFinite(v)) {
          setError(`${label} must be a number; got ${JSON.stringify(input.value)}`);
          return;
        }
        next[key] = kind === "int" ? Math.round(v) : v;
        if (key === "warmup" && design.decay_start === design.warmup) next.decay_start = Math.max(v, next.decay_start);
      }
      applyDesign(next);
    });
    wrap.append(input);
    box.append(wrap);
  }
}

function currentDesign() {
  const info = activeInfo();
  return info ? info.design || info.approx : meta.default_design;
}

function applyDesign(design) {
  const layer = state.layers[state.active];
  const info = activeInfo();
  if (!layer.budget && info && info.budget) layer.budget = info.budget;  // a preset's budget stays
  layer.design = design;
  refresh();
}

// --- handles: dragging --------------------------------------------------------------------------

function pointer(event) {
  const svg = $("chart");
  const box = svg.getBoundingClientRect();
  const sc = scales(axes());
  return [((event.clientX - box.left) / box.width) * sc.width, ((event.clientY - box.top) / box.height) * sc.height];
}

function handleAt(point) {
  const info = activeInfo();
  if (!info || !info.handles) return [];
  const sc = scales(axes());
  const found = [];
  for (const [name, h] of Object.entries(info.handles)) {
    const [hx, hy] = handlePos(name, h, sc);
    if (Math.hypot(hx - point[0], hy - point[1]) <= 12) found.push([Math.hypot(hx - point[0], hy - point[1]), name]);
  }
  return found.sort((a, b) => a[0] - b[0]).map((pair) => pair[1]);
}

// Several handles on one spot (a cosine's warmup end, peak and decay start): the direction
// of the first move picks one: up/down the peak, left the warmup end, right the decay start.
function choose(candidates, dx, dy) {
  const info = activeInfo();
  const moves = (n) => info.handles[n].moves;
  if (Math.abs(dy) > Math.abs(dx)) {
    return candidates.find((n) => moves(n) === "y") || candidates.find((n) => moves(n) === "xy") || candidates[0];
  }
  const sideways = candidates.filter((n) => moves(n) !== "y");
  if (!sideways.length) return candidates[0];
  const order = dx < 0 ? ["warmup_end", "decay_start", "decay_end"] : ["decay_start", "decay_end", "warmup_end"];
  return order.find((n) => sideways.includes(n)) || sideways[0];
}

function onPointerDown(event) {
  keyHandle = null;
  const point = pointer(event);
  const candidates = handleAt(point);
  if (!candidates.length) {
    startZoom(event, point);
    return;
  }
  event.preventDefault();
  document.body.dataset.busy = "1";
  $("chart").setPointerCapture(event.pointerId);
  frozen = axes();
  drag = { candidates, name: candidates.length === 1 ? candidates[0] : null, origin: point, design: Object.assign({}, activeInfo().design) };
}

function onPointerMove(event) {
  const point = pointer(event);
  if (zoom) {
    moveZoom(point);
    return;
  }
  if (!drag) {
    hover(point);
    $("chart").style.cursor = handleAt(point).length ? "grab" : "crosshair";
    return;
  }
  const dx = point[0] - drag.origin[0], dy = point[1] - drag.origin[1];
  if (!drag.name) {
    if (Math.hypot(dx, dy) < 4) return;
    drag.name = choose(drag.candidates, dx, dy);
  }
  const sc = scales(frozen);
  const info = activeInfo();
  const moves = info.handles[drag.name].moves;
  const step = Math.round(Math.min(Math.max(sc.xInv(point[0]) / scaleOf(state.active), 0), meta.limits.max_step));
  // a pixel is about 1/400 of the axis: three significant digits say what the hand meant
  const lr = Math.max(+sc.yInv(point[1]).toPrecision(3), 0);
  const vertical = Math.abs(dy) >= 3;
  const d = Object.assign({}, drag.design);
  if (drag.name === "warmup_end") {
    const linked = d.decay_start === d.warmup;
    d.warmup = Math.max(0, Math.min(step, (linked ? d.decay_end : d.decay_start) - 1));
    if (d.shape === "onecycle") d.warmup = Math.min(d.warmup, d.decay_end - 3);
    if (linked || d.shape === "constant" || d.shape === "onecycle") d.decay_start = d.warmup;
    if (vertical) d.peak = Math.max(lr, d.final, d.start, 1e-12);
  } else if (drag.name === "decay_start") {
    d.decay_start = Math.max(d.warmup, Math.min(step, d.decay_end - 1));
  } else if (drag.name === "decay_end") {
    const end = d.shape === "onecycle" ? step + 1 : step;
    d.decay_end = Math.max(d.decay_start + 1, d.shape === "onecycle" ? d.warmup + 3 : 0, end);
    if (moves === "xy" && vertical) d.final = Math.max(0, Math.min(lr, d.peak));
    if (d.shape === "onecycle") d.final = Math.max(Math.min(d.final, d.start), d.peak * 1e-9);
    if (d.shape === "step" || d.shape === "exponential") d.final = Math.max(d.final, d.peak * 1e-9);
  } else if (drag.name === "peak") {
    d.peak = Math.max(lr, 1e-12);
    d.final = Math.min(d.final, d.peak);
    d.start = Math.min(d.start, d.peak);
  }
  const home = handlePos(drag.name, info.handles[drag.name], sc);
  const x = { warmup_end: d.warmup, decay_start: d.decay_start, decay_end: d.shape === "onecycle" ? d.decay_end - 1 : d.decay_end }[drag.name];
  drag.px = [moves === "y" ? home[0] : sc.x(x * scaleOf(state.active)), moves === "x" ? home[1] : point[1]];
  setStatus(`${HANDLE_NAMES[drag.name]}: ${dragText(drag.name, d)}`);
  applyDesign(d);
}

function dragText(name, d) {
  if (name === "peak") return `LR ${lrText(d.peak)}`;
  if (name === "warmup_end") return `${stepText(d.warmup)}, peak ${lrText(d.peak)}`;
  if (name === "decay_start") return stepText(d.decay_start);
  return `${stepText(d.decay_end)}, LR ${lrText(d.final)}`;
}

function onPointerUp(event) {
  if (zoom) {
    endZoom(pointer(event));
    return;
  }
  if (!drag) return;
  drag = null;
  frozen = null;
  setStatus("");
  refresh();  // redraw with axes fitted to the new curve (and clear the busy mark)
}

// --- zooming: drag across the plot to look closer, double-click to see it all ------------------

let zoom = null;

function startZoom(event, point) {
  if (!plot) return;
  const sc = scales(axes());
  if (point[0] < sc.x0 || point[0] > sc.x1 || point[1] < sc.y1 || point[1] > sc.y0) return;
  $("chart").setPointerCapture(event.pointerId);
  zoom = { from: point[0] };
  el("rect", { id: "zoom-rect", x: point[0], y: sc.y1, width: 0, height: sc.y0 - sc.y1 }, $("chart"));
}

function moveZoom(point) {
  const sc = scales(axes());
  const to = Math.min(Math.max(point[0], sc.x0), sc.x1);
  const rect = $("zoom-rect");
  if (rect) {
    rect.setAttribute("x", Math.min(zoom.from, to));
    rect.setAttribute("width", Math.abs(to - zoom.from));
  }
}

function endZoom(point) {
  const sc = scales(axes());
  const to = Math.min(Math.max(point[0], sc.x0), sc.x1);
  const from = zoom.from;
  zoom = null;
  const rect = $("zoom-rect");
  if (rect) rect.remove();
  if (Math.abs(to - from) < 8) return;
  let [a, b] = [sc.xInv(Math.min(from, to)), sc.xInv(Math.max(from, to))];
  if (plot.x === "steps") {
    a = Math.max(0, Math.floor(a));
    b = Math.max(a + 1, Math.ceil(b));
  }
  state.view = [Math.max(0, a), b];
  refresh();
}

function resetZoom() {
  if (!state.view) return;
  state.view = null;
  refresh();
}

// --- reading the LR at a step -------------------------------------------------------------------

let hoverBusy = false, hoverNext = null;

function hover(point) {
  if (!plot) return;
  const sc = scales(axes());
  if (point[0] < sc.x0 || point[0] > sc.x1 || point[1] < sc.y1 - 10 || point[1] > sc.y0 + 10) return;
  const x = Math.max(0, sc.xInv(point[0]));
  askAt(plot.layers.map((_, i) => Math.min(Math.round(x / scaleOf(i)), meta.limits.max_step)), false);
}

async function askAt(step, fromBox) {
  hoverNext = { step, fromBox };
  if (hoverBusy) return;
  hoverBusy = true;
  while (hoverNext) {
    const ask = hoverNext;
    hoverNext = null;
    try {
      const answer = await api("/api/at", { layers: state.layers.map(layerRequest), step: ask.step });
      showAt(answer.results, ask.fromBox);
    } catch (error) {
      if (ask.fromBox) $("at-result").textContent = error.message;
    }
  }
  hoverBusy = false;
}

function showAt(results, fromBox) {
  if (!plot || !results.length) return;
  const sc = scales(axes());
  const main = results[state.active] || results[0];
  const cross = $("crosshair");
  const mainX = main.step * scaleOf(state.active);
  const inside = mainX >= plot.range[0] && mainX <= plot.range[1];
  if (cross && inside) {
    cross.setAttribute("x1", sc.x(mainX));
    cross.setAttribute("x2", sc.x(mainX));
    cross.setAttribute("visibility", "visible");
    const dots = $("dots");
    dots.replaceChildren();
    results.forEach((r, i) => {
      if (r.lr === null || (axes().log && !(r.lr > 0))) return;
      el("circle", { cx: sc.x(r.step * scaleOf(i)), cy: sc.y(r.lr), r: 4, fill: COLORS[i % COLORS.length], class: "dot" }, dots);
    });
  }
  const readout = $("readout");
  readout.replaceChildren();
  const head = document.createElement("div");
  head.className = "readout-step";
  head.textContent = stepText(main.step);
  readout.append(head);
  results.forEach((r, i) => {
    const row = document.createElement("div");
    row.innerHTML = `<span class="swatch" style="background:${COLORS[i % COLORS.length]}"></span>`;
    const value = document.createElement("span");
    value.className = "readout-lr";
    value.dataset.layer = i;
    const at = r.step !== main.step ? ` (step ${r.step.toLocaleString("en-US")})` : "";
    value.textContent = `LR ${r.lr === null ? "not finite" : String(r.lr)}${at}`;
    row.append(value);
    readout.append(row);
  });
  readout.classList.add("shown");
  if (fromBox) {
    $("at-result").textContent = results.map((r, i) => (results.length > 1 ? `${i + 1}: ` : "") + (r.lr === null ? "not finite" : String(r.lr)))
      .join("   ") + (results.length === 1 && main.step !== Number($("at-step").value) ? `  (step ${main.step})` : "");
  }
}

function stepFromBox() {
  const text = $("at-step").value.trim();
  if (!text) return;
  const numeric = /^[0-9.eE+_]+$/.test(text) && Number.isFinite(Number(text.replace(/_/g, "")));
  askAt(numeric ? Number(text.replace(/_/g, "")) : text, true);
}

// --- export -------------------------------------------------------------------------------------

let exportTimer = null;

function loadExport() {
  clearTimeout(exportTimer);
  exportTimer = setTimeout(async () => {
    const layer = state.layers[state.active];
    const code = $("code").firstChild;
    try {
      const answer = await api("/api/export", { layer: layerRequest(layer), to: exportTo });
      code.textContent = answer.code;
      $("copy").disabled = false;
      $("export-note").textContent = answer.native === false
        ? `${exportTo}'s own schedulers cannot express this schedule exactly (${answer.reason}); the snippet uses the closest exact alternative.`
        : "";
    } catch (error) {
      code.textContent = error.status === 501 ? `# ${error.message}` : `# cannot export: ${error.message}`;
      $("copy").disabled = true;
      $("export-note").textContent = "";
    }
  }, 120);
}

async function copyCode() {
  const text = $("code").textContent;
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch (e) {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
    area.remove();
  }
  const button = $("copy");
  button.textContent = ok ? "Copied" : "Copy failed";
  button.classList.toggle("done", ok);
  setTimeout(() => { button.textContent = "Copy"; button.classList.remove("done"); }, 1500);
}

// --- wiring ------------------------------------------------------------------------------------

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function budgetFromInputs() {
  const out = {};
  const total = $("b-total").value.trim();
  if (total) out.total_steps = /^[0-9]+(\.[0-9]+)?([eE][0-9]+)?$/.test(total) ? Number(total) : total;
  for (const [id, key] of [["b-tps", "tokens_per_step"], ["b-spe", "steps_per_epoch"]]) {
    const v = $(id).value.trim();
    if (v) out[key] = Number(v);
  }
  return Object.keys(out).length ? out : null;
}

function wire() {
  const shapes = $("shapes");
  for (const shape of meta.shapes) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.shape = shape;
    b.setAttribute("role", "radio");
    b.textContent = SHAPE_NAMES[shape] || shape;
    b.addEventListener("click", () => applyDesign(Object.assign({}, currentDesign(), { shape })));
    shapes.append(b);
  }
  const presets = $("preset");
  for (const p of meta.presets) {
    const o = document.createElement("option");
    o.value = p.name;
    o.textContent = p.name;
    o.title = p.citation;
    presets.append(o);
  }
  presets.addEventListener("change", () => {
    if (!presets.value) return;
    state.layers[state.active] = { spec: presets.value, budget: null };
    presets.value = "";
    refresh();
  });
  for (const target of meta.targets) {
    const tab = document.createElement("button");
    tab.type = "button";
    tab.setAttribute("role", "tab");
    tab.dataset.target = target;
    tab.textContent = target;
    tab.setAttribute("aria-selected", target === exportTo ? "true" : "false");
    tab.addEventListener("click", () => {
      exportTo = target;
      for (const t of $("export-tabs").children) t.setAttribute("aria-selected", t === tab ? "true" : "false");
      loadExport();
    });
    $("export-tabs").append(tab);
  }
  $("copy").addEventListener("click", copyCode);
  $("spec").addEventListener("input", debounce(() => {
    const layer = state.layers[state.active];
    const info = activeInfo();
    const text = $("spec").value;
    if (!text.trim()) { setError("the text form is empty: type a schedule such as cosine(6e-4, 6e-5, 19073)"); return; }
    if (info && !layer.budget && info.budget) layer.budget = info.budget;
    layer.spec = text;
    refresh({ keepSpec: true });
  }, 250));
  for (const id of ["b-total", "b-tps", "b-spe"]) {
    $(id).addEventListener("change", () => {
      state.layers[state.active].budget = budgetFromInputs();
      refresh();
    });
  }
  $("add-layer").addEventListener("click", () => {
    if (state.layers.length >= meta.limits.layers) return;
    const base = state.layers[state.active];
    state.layers.push({ spec: base.spec, budget: base.budget });
    state.active = state.layers.length - 1;
    refresh();
  });
  $("make-design").addEventListener("click", () => applyDesign(Object.assign({}, activeInfo().approx)));
  $("x-unit").addEventListener("change", () => { state.x = $("x-unit").value; state.view = null; refresh(); });
  $("reset-zoom").addEventListener("click", resetZoom);
  $("chart").addEventListener("dblclick", resetZoom);
  $("log-y").addEventListener("change", () => { state.log = $("log-y").checked; writeHash(); render(); });
  $("at-go").addEventListener("click", stepFromBox);
  $("at-step").addEventListener("keydown", (e) => { if (e.key === "Enter") stepFromBox(); });
  const svg = $("chart");
  svg.addEventListener("pointerdown", onPointerDown);
  svg.addEventListener("pointermove", onPointerMove);
  svg.addEventListener("pointerup", onPointerUp);
  svg.addEventListener("pointercancel", onPointerUp);
  svg.addEventListener("pointerleave", () => {
    if (drag) return;
    $("readout").classList.remove("shown");
    const cross = $("crosshair");
    if (cross) cross.setAttribute("visibility", "hidden");
  });
  svg.addEventListener("keydown", onKey);
  window.addEventListener("resize", debounce(() => render({ keepControls: true }), 100));
  window.addEventListener("hashchange", () => {
    const next = readHash();
    if (next && JSON.stringify(next) !== JSON.stringify(state)) { state = next; refresh(); }
  });
}

// Arrow keys move a focused handle by 1% of the view (Shift: 10%).
function onKey(event) {
  const name = event.target && event.target.dataset ? event.target.dataset.handle : null;
  if (!name || !event.key.startsWith("Arrow")) return;
  const info = activeInfo();
  const d = Object.assign({}, info.design);
  const span = (plot.range[1] - plot.range[0]) / scaleOf(state.active);
  const stepBy = Math.max(1, Math.round(span * (event.shiftKey ? 0.1 : 0.01)));
  const sign = event.key === "ArrowRight" || event.key === "ArrowUp" ? 1 : -1;
  const horizontal = event.key === "ArrowLeft" || event.key === "ArrowRight";
  if ((name === "peak" || name === "warmup_end") && !horizontal) d.peak *= sign > 0 ? 1.1 : 1 / 1.1;
  else if (name === "warmup_end" && horizontal) {
    const linked = d.decay_start === d.warmup;
    d.warmup = Math.max(0, Math.min(d.warmup + sign * stepBy, (linked ? d.decay_end : d.decay_start) - 1));
    if (linked) d.decay_start = d.warmup;
  } else if (name === "decay_start" && horizontal) d.decay_start = Math.max(d.warmup, Math.min(d.decay_start + sign * stepBy, d.decay_end - 1));
  else if (name === "decay_end" && horizontal) d.decay_end = Math.max(d.decay_start + 1, d.decay_end + sign * stepBy);
  else if (name === "decay_end") d.final = Math.min(d.peak, d.final * (sign > 0 ? 1.1 : 1 / 1.1));
  else return;
  event.preventDefault();
  keyHandle = name;  // the redraw replaces the circle: focus goes to its successor
  d.final = Math.min(d.final, d.peak);
  d.start = Math.min(d.start, d.peak);
  applyDesign(d);
}

async function main() {
  try {
    meta = await api("/api/meta");
  } catch (error) {
    setStatus(`cannot reach the lrlab server: ${error.message}`);
    return;
  }
  state = readHash() || defaultState();
  wire();
  refresh();
}

main();
