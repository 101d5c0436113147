// The dashboard page: polls the JSON API every second and draws it. Every value from the server goes into
// the page as text (textContent, text nodes, attribute values through setAttribute on known names): no
// innerHTML, no eval, no inline handlers. The helpers it uses (h, table, api, lineChart, ...) are in dom.js.
"use strict";

const POLL_MS = 1000;
const PAGE_SIZE = 25;
const LISTS = [
  ["queued", "queued"],
  ["running", "running"],
  ["scheduled", "scheduled"],
  ["done", "done"],
  ["failed", "failed"],
];

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
// ------------------------------------------------------------------ overview

function renderCounts(o) {
  const c = o.counts;
  const items = [
    ["queued", c.queued],
    ["running", c.running],
    ["scheduled", c.scheduled],
    ["done", c.results],
    ["failed", c.failed],
  ];
  replace(
    $("counts"),
    items.map(([name, n]) =>
      h(
        "button",
        { type: "button", class: `count ${name}${state.list === name ? " active" : ""}`, dataset: { list: name }, onclick: () => openList(name) },
        h("span", { class: "n" }, fmtNumber(n)),
        h("span", { class: "label" }, name === "done" ? "done (results)" : name === "failed" ? "failed (dead letters)" : name),
      ),
    ),
  );
}

function renderConsumers(o) {
  if (!o.consumers || o.consumers.length === 0) return replace($("consumers"), empty("no data yet (consumers report here once they send heartbeats)"));
  replace(
    $("consumers"),
    table(
      ["", "id", "host", "pid", "version", "backend", "started", "workers", "busy", "done", "failed", "last seen"],
      o.consumers.map((k) =>
        h(
          "tr",
          {},
          td(h("span", { class: `badge ${k.live ? "ok" : "bad"}` }, k.live ? "live" : "gone")),
          td(k.id, "mono"),
          td(k.host),
          td(k.pid, "num"),
          td(k.version),
          td(k.backend),
          td(fmtAgo(k.started, o.at)),
          td(k.workers, "num"),
          td(k.busy, "num"),
          td(fmtNumber(k.done), "num"),
          td(fmtNumber(k.failed), "num"),
          td(fmtAgo(k.lastSeen, o.at)),
        ),
      ),
      [3, 7, 8, 9, 10],
    ),
  );
}

function renderQueues(o) {
  replace(
    $("queues"),
    table(
      ["queue", "queued", "running", "scheduled", "state", ""],
      o.queues.map((q) =>
        h(
          "tr",
          {},
          td(q.queue),
          td(fmtNumber(q.queued), "num"),
          td(fmtNumber(q.running), "num"),
          td(fmtNumber(q.scheduled), "num"),
          td(q.paused ? h("span", { class: "badge warn" }, q.until === null ? "paused" : `paused, resumes ${fmtAgo(q.until, o.at)}`) : h("span", { class: "badge ok" }, "active")),
          td(q.paused ? button("resume", () => act("/api/resume", { queue: q.queue })) : button("pause", () => act("/api/pause", { queue: q.queue }))),
        ),
      ),
      [1, 2, 3],
    ),
  );
}

function renderPeriodic(o) {
  if (o.periodic.length === 0) return replace($("periodic"), empty("no periodic tasks"));
  replace(
    $("periodic"),
    table(
      ["name", "schedule", "last run", "next run"],
      o.periodic.map((p) => h("tr", {}, td(p.name), td(p.schedule), td(p.lastRun === null ? "never" : fmtAgo(p.lastRun, o.at)), td(p.nextRun === null ? "never" : fmtAgo(p.nextRun, o.at)))),
    ),
  );
}

function renderLocks(o) {
  $("flush-all-locks").disabled = o.locks.length === 0;
  if (o.locks.length === 0) return replace($("locks"), empty("no locks held"));
  replace(
    $("locks"),
    table(
      ["key", "owner", "expires", "fence", ""],
      o.locks.map((l) => h("tr", {}, td(l.key, "mono"), td(l.owner, "mono"), td(fmtAgo(l.until, o.at)), td(l.fence, "num"), td(button("flush", () => act("/api/flush-lock", { key: l.key }), "danger")))),
      [3],
    ),
  );
}

function renderRevoked(o) {
  const rows = [
    ...o.revoked.tasks.map((r) => ({ kind: "task", value: r.task, r })),
    ...o.revoked.ids.map((r) => ({ kind: "id", value: r.id, r })),
  ];
  if (rows.length === 0) return replace($("revoked"), empty("nothing revoked"));
  replace(
    $("revoked"),
    table(
      ["", "revoked", "until", ""],
      rows.map(({ kind, value, r }) =>
        h("tr", {}, td(kind), td(value, "mono"), td(r.once ? "next run only" : r.until === null ? "restored" : fmtAgo(r.until, o.at)), td(button("restore", () => act("/api/restore", { [kind]: value })))),
      ),
    ),
  );
}
// ------------------------------------------------------------------ charts

function renderCharts(o) {
  state.depth.push({ at: o.at, ...o.counts });
  if (state.depth.length > 300) state.depth.shift();
  const d = state.depth;
  replace(
    $("depth-chart"),
    lineChart(d.map((p) => p.at), [
      { label: "queued", color: "#2f6fde", values: d.map((p) => p.queued) },
      { label: "running", color: "#1f9d55", values: d.map((p) => p.running) },
      { label: "scheduled", color: "#c98a00", values: d.map((p) => p.scheduled) },
      { label: "failed", color: "#d64545", values: d.map((p) => p.failed) },
    ]),
  );
  const t = o.throughput || [];
  if (t.length === 0) return replace($("throughput-chart"), empty("no data yet (filled by the consumers' per-task statistics)"));
  replace(
    $("throughput-chart"),
    lineChart(t.map((p) => p.minute), [
      { label: "done", color: "#1f9d55", values: t.map((p) => p.done) },
      { label: "failed", color: "#d64545", values: t.map((p) => p.failed) },
    ]),
  );
}

function renderOverview(o) {
  $("queue-name").textContent = o.queue;
  $("where").textContent = `${o.storage}${o.database ? ` · ${o.database}` : ""} · bun-huey ${o.version}`;
  renderCounts(o);
  renderCharts(o);
  renderConsumers(o);
  renderQueues(o);
  renderPeriodic(o);
  renderLocks(o);
  renderRevoked(o);
  const filter = $("queue-filter");
  const have = new Set([...filter.options].map((op) => op.value));
  for (const q of o.queues) if (!have.has(q.queue)) filter.append(h("option", {}, q.queue));
}
// ------------------------------------------------------------------ lists

function taskCells(t, now) {
  return [
    td(t.id, "mono"),
    td(t.name),
    td(t.queue),
    td(t.priority, "num"),
    td(preview(t.args), "args"),
    td(`${t.attempt}`, "num"),
  ];
}

function listRows(kind, page, now) {
  if (page.items.length === 0) return empty(state.q ? "nothing matches" : `no ${kind} tasks`);
  if (kind === "done") {
    return table(
      ["id", "outcome", "value or error", "expires"],
      page.items.map((r) =>
        h("tr", { class: "clickable", dataset: { id: r.id }, onclick: () => openDetail(r.id) },
          td(r.id, "mono"),
          td(h("span", { class: `badge ${r.ok ? "ok" : "bad"}` }, r.ok ? "ok" : "failed")),
          td(r.ok ? preview(r.value) : `${r.error ? `${r.error.name}: ${r.error.message}` : "failed"}`, "args"),
          td(r.expiresAt === undefined ? "–" : r.expiresAt === null ? "never" : fmtAgo(r.expiresAt, now)),
        ),
      ),
    );
  }
  if (kind === "failed") {
    return table(
      ["id", "task", "args", "error", "attempts", "failed", ""],
      page.items.map((r) =>
        h("tr", { class: "clickable", dataset: { id: r.id }, onclick: () => openDetail(r.id) },
          td(r.id, "mono"),
          td(r.name),
          td(preview(r.args), "args"),
          td(r.error ? `${r.error.name}: ${r.error.message}` : "", "args"),
          td(r.attempts, "num"),
          td(fmtAgo(r.failedAt, now)),
          td([button("retry", () => act("/api/retry", { id: r.id })), " ", button("purge", () => act("/api/purge", { id: r.id }), "danger")]),
        ),
      ),
      [4],
    );
  }
  const extra = kind === "scheduled" ? ["runs"] : kind === "running" ? ["lease ends"] : [];
  return table(
    ["id", "task", "queue", "priority", "args", "attempt", ...extra, ""],
    page.items.map((t) =>
      h("tr", { class: "clickable", dataset: { id: t.id }, onclick: () => openDetail(t.id) },
        taskCells(t, now),
        kind === "scheduled" ? td(fmtAgo(t.eta, now)) : kind === "running" ? td(t.leasedUntil ? fmtAgo(t.leasedUntil, now) : "–") : null,
        td(button("revoke", () => act("/api/revoke", { id: t.id }), "danger")),
      ),
    ),
    [3, 5],
  );
}

async function refreshList() {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(state.offset) });
  if (state.q) params.set("q", state.q);
  if (state.queue) params.set("queue", state.queue);
  const kind = state.list;
  const page = await api(`/api/${kind}?${params}`);
  if (kind !== state.list) return; // switched meanwhile
  replace($("list"), listRows(kind, page, Date.now()));
  const note = $("list-note");
  note.hidden = !page.note;
  note.textContent = page.note || "";
  const from = page.items.length ? page.offset + 1 : 0;
  const to = page.offset + page.items.length;
  $("page-info").textContent = `${fmtNumber(from)}–${fmtNumber(to)}${page.total !== null ? ` of ${fmtNumber(page.total)}` : ""}`;
  $("prev").disabled = page.offset === 0;
  $("next").disabled = !page.more;
  $("purge-all").hidden = kind !== "failed" || page.items.length === 0;
}

function renderTabs() {
  replace(
    $("tabs"),
    LISTS.map(([kind, label]) => h("button", { type: "button", class: state.list === kind ? "active" : null, dataset: { list: kind }, onclick: () => openList(kind) }, label)),
  );
}

function openList(kind) {
  state.list = kind;
  state.offset = 0;
  renderTabs();
  refresh();
}

// ------------------------------------------------------------------ detail

async function openDetail(id) {
  state.detail = id;
  $("detail").hidden = false;
  $("detail-id").textContent = id;
  await refreshDetail();
  $("detail").scrollIntoView({ block: "nearest" });
}

async function refreshDetail() {
  const id = state.detail;
  if (id === null) return;
  let d;
  try {
    d = await api(`/api/tasks/${encodeURIComponent(id)}`);
  } catch (err) {
    if (id !== state.detail) return;
    replace($("detail-actions"));
    replace($("detail-body"), h("p", { class: "error" }, err.message));
    return;
  }
  if (id !== state.detail) return;
  const actions = [h("span", { class: "badge" }, d.state)];
  if (d.state === "queued" || d.state === "scheduled" || d.state === "running") {
    actions.push(d.revoked ? button("restore", () => act("/api/restore", { id })) : button("revoke", () => act("/api/revoke", { id }), "danger"));
  }
  if (d.state === "failed") actions.push(button("retry", () => act("/api/retry", { id })), button("purge", () => act("/api/purge", { id }), "danger"));
  replace($("detail-actions"), actions);
  const parts = [];
  const section = (title, value) => parts.push(h("h3", {}, title), h("pre", {}, typeof value === "string" ? value : pretty(value)));
  const t = d.task || d.deadLetter;
  if (t) section("task", { name: t.name, args: t.args, queue: t.queue, priority: t.priority, attempt: t.attempt, retries: t.retries, eta: t.eta, attempts: t.attempts });
  if (d.result) section(d.result.ok ? "result" : "result (failure)", d.result.ok ? d.result.value : d.result.error);
  if (d.deadLetter) {
    section("error", `${d.deadLetter.error.name}: ${d.deadLetter.error.message}`);
    if (d.deadLetter.error.stack) section("stack", d.deadLetter.error.stack);
    parts.push(h("p", { class: "dim" }, `failed ${fmtTime(d.deadLetter.failedAt)} after ${d.deadLetter.attempts} attempt(s)`));
  }
  if (d.result && !d.result.ok && d.result.error && d.result.error.stack) section("stack", d.result.error.stack);
  if (d.progress !== null) section("progress", d.progress);
  if (d.revoked) section("revoked", d.revoked);
  if (d.message) section("stored message", d.message);
  replace($("detail-body"), parts);
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
