// The dashboard page: polls the JSON API every second and draws it. Every value from the server goes into
// the page as text (textContent, text nodes, attribute values through setAttribute on known names): no
// innerHTML, no eval, no inline handlers. The helpers it uses (h, table, api, lineChart, ...) are in dom.js;
// the overview, the lists and the detail view in overview.js, lists.js and detail.js (loaded before this
// file, sharing the page's global scope); this one holds the state, the actions, the forms and the loop.
"use strict";

const POLL_MS = 1000;

const state = { list: "queued", offset: 0, q: "", queue: "", detail: null, depth: [], registry: null, busy: false, again: false };

// ------------------------------------------------------------------ actions

/** Run an action; show its error in the banner; refresh everything after. */
async function act(path, body, done) {
  try {
    const r = await api(path, body);
    banner("");
    if (done) done(r);
  } catch (err) {
    banner(`${path.replace("/api/", "")}: ${err.message}`, true);
  }
  await refresh();
}

function button(label, onclick, cls) {
  return h("button", { type: "button", class: cls ? `small ${cls}` : "small", onclick: (e) => { e.stopPropagation(); onclick(); } }, label);
}
// ------------------------------------------------------------------ forms

function setupForms() {
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.q = $("search").value.trim();
    state.queue = $("queue-filter").value;
    state.offset = 0;
    refresh();
  });
  $("queue-filter").addEventListener("change", () => {
    state.queue = $("queue-filter").value;
    state.offset = 0;
    refresh();
  });
  $("prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    refresh();
  });
  $("next").addEventListener("click", () => {
    state.offset += PAGE_SIZE;
    refresh();
  });
  $("purge-all").addEventListener("click", () => {
    if (confirm("Drop every dead letter? This cannot be undone.")) act("/api/purge", { all: true });
  });
  $("flush-all-locks").addEventListener("click", () => {
    if (confirm("Free every lock?")) act("/api/flush-lock", { all: true });
  });
  $("detail-close").addEventListener("click", () => {
    state.detail = null;
    $("detail").hidden = true;
  });
  $("revoke-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const kind = $("revoke-kind").value === "task" ? "task" : "id";
    const value = $("revoke-target").value.trim();
    if (value) act("/api/revoke", { [kind]: value }, () => ($("revoke-target").value = ""));
  });
  $("enqueue-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const out = $("enqueue-out");
    let args;
    let options;
    try {
      args = JSON.parse($("enqueue-args").value || "[]");
      options = JSON.parse($("enqueue-options").value || "{}");
    } catch (err) {
      out.textContent = `not valid JSON: ${err.message}`;
      return;
    }
    act("/api/enqueue", { task: $("enqueue-task").value, args, options }, (r) => {
      out.textContent = "enqueued ";
      out.append(h("a", { onclick: () => openDetail(r.id) }, r.id));
    });
  });
}

async function loadRegistry() {
  const r = await api("/api/registry");
  state.registry = r;
  replace($("enqueue-task"), r.tasks.map((t) => h("option", {}, t.name)));
}

// ------------------------------------------------------------------ the loop

async function refresh() {
  if (state.busy) {
    state.again = true; // an action's change shows as soon as the refresh under way ends
    return;
  }
  state.busy = true;
  const live = $("live");
  try {
    const o = await api("/api/overview");
    renderOverview(o);
    await refreshList();
    await refreshDetail();
    live.className = "live ok";
    live.textContent = `live · ${new Date(o.at).toLocaleTimeString()}`;
  } catch (err) {
    live.className = "live bad";
    live.textContent = `not updating: ${err.message}`;
  } finally {
    state.busy = false;
  }
  if (state.again) {
    state.again = false;
    await refresh();
  }
}

function start() {
  renderTabs();
  setupForms();
  loadRegistry().catch((err) => banner(`could not load the task list: ${err.message}`, true));
  refresh();
  setInterval(() => {
    if (!document.hidden) refresh();
  }, POLL_MS);
}

start();
