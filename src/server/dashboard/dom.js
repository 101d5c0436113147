// The dashboard page's helpers (loaded before app.js, sharing its global scope): DOM building that puts
// every value in as text, formatting, the API client and the SVG line chart. No innerHTML anywhere.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

// ------------------------------------------------------------------ DOM helpers (text only)

/** An element with text children; `props` sets only known, safe properties. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = String(v);
    else if (k === "title") el.title = String(v);
    else if (k === "onclick") el.addEventListener("click", v);
    else if (k === "type") el.type = String(v);
    else if (k === "colspan") el.colSpan = Number(v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else throw new Error(`h(): unsupported property ${k}`);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
}

function $(id) {
  return document.getElementById(id);
}

function replace(target, ...nodes) {
  target.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined));
}

function empty(text) {
  return h("div", { class: "empty" }, text);
}

function table(headers, rows, numeric = []) {
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, headers.map((t, i) => h("th", { class: numeric.includes(i) ? "num" : null }, t)))),
    h("tbody", {}, rows),
  );
}

function td(value, cls) {
  return h("td", { class: cls }, value);
}

// ------------------------------------------------------------------ formatting

function fmtNumber(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : "–";
}

function fmtAgo(ms, now) {
  if (ms === null || ms === undefined) return "–";
  const d = ms - (now ?? Date.now());
  const a = Math.abs(d);
  const s = a < 1000 ? "now" : a < 60e3 ? `${Math.round(a / 1e3)}s` : a < 3600e3 ? `${Math.round(a / 60e3)}m` : a < 86400e3 ? `${(a / 3600e3).toFixed(1)}h` : `${(a / 86400e3).toFixed(1)}d`;
  if (s === "now") return "now";
  return d > 0 ? `in ${s}` : `${s} ago`;
}

function fmtTime(ms) {
  if (ms === null || ms === undefined) return "–";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** Local time of day with milliseconds, for log lines and events. */
function fmtClock(ms) {
  if (ms === null || ms === undefined) return "–";
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** Text with its control characters (but newline and tab) shown as \xNN: a terminal escape in a log line stays visible. */
function visible(s) {
  return String(s).replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** A JSON value as one line, cut at `max` characters. */
function preview(v, max = 120) {
  let s;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  if (s === undefined) s = "undefined";
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function pretty(v) {
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}
// ------------------------------------------------------------------ API

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, body) {
  const init = body === undefined ? { headers: { accept: "application/json" } } : {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json", "x-huey-request": "1" },
    body: JSON.stringify(body),
  };
  init.credentials = "same-origin";
  const res = await fetch(path, init);
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.status === 401) {
    banner("Not logged in, or the token changed: reload the page to log in.", true);
    throw new HttpError(401, (data && data.error) || "unauthorized");
  }
  if (!res.ok) throw new HttpError(res.status, (data && data.error) || `HTTP ${res.status}`);
  return data;
}

function banner(text, error) {
  const b = $("banner");
  if (!text) {
    b.hidden = true;
    return;
  }
  b.hidden = false;
  b.className = error ? "banner error" : "banner";
  b.textContent = text;
}

// ------------------------------------------------------------------ charts

/** Lines over time: series [{label, color, values: [number]}], x in `times`. */
function lineChart(times, series) {
  const W = 600;
  const H = 150;
  const P = { l: 44, r: 8, t: 8, b: 18 };
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img" });
  const x = (i) => P.l + (times.length <= 1 ? 0 : (i * (W - P.l - P.r)) / (times.length - 1));
  const y = (v) => H - P.b - (v * (H - P.t - P.b)) / max;
  for (const f of [0, 0.5, 1]) {
    const v = Math.round(max * f);
    root.append(svg("line", { x1: P.l, x2: W - P.r, y1: y(v), y2: y(v), stroke: "#e1e4ea" }));
    const t = svg("text", { x: P.l - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 10, fill: "#6b7385" });
    t.textContent = fmtNumber(v);
    root.append(t);
  }
  for (const s of series) {
    if (s.values.length === 0) continue;
    const d = s.values.map((v, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    root.append(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
  }
  if (times.length > 1) {
    for (const [i, anchor] of [[0, "start"], [times.length - 1, "end"]]) {
      const t = svg("text", { x: x(i), y: H - 4, "text-anchor": anchor, "font-size": 10, fill: "#6b7385" });
      t.textContent = new Date(times[i]).toLocaleTimeString();
      root.append(t);
    }
  }
  const legend = h("div", { class: "legend" }, series.map((s) => {
    const el = h("span", {}, `${s.label} ${fmtNumber(s.values[s.values.length - 1] ?? 0)}`);
    el.style.setProperty("--c", s.color);
    return el;
  }));
  return [root, legend];
}
