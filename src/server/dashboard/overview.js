// The dashboard page's overview: the counts, the depth and throughput charts, the consumers (from their
// heartbeats), queues, periodic tasks, locks and revocations. Loaded after dom.js, before app.js (which holds
// `state`, act() and button()); every value goes in as text.
"use strict";

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

/** live (beat within 3 intervals), stopped (said so at a clean stop), or silent (killed, paused or cut off). */
function consumerStatus(k) {
  if (k.live) return h("span", { class: "badge ok", title: "its heartbeat is recent" }, "live");
  if (k.stopped) return h("span", { class: "badge", title: "it stopped cleanly" }, "stopped");
  return h("span", { class: "badge bad", title: "no heartbeat for 3 intervals: killed, paused or cut off" }, "silent");
}

function renderConsumers(o) {
  if (!o.consumers || o.consumers.length === 0) return replace($("consumers"), empty("no data yet (consumers report here once they send heartbeats)"));
  replace(
    $("consumers"),
    table(
      ["", "consumer", "host", "pid", "queues", "busy / slots", "done", "failed", "started", "last seen", "version"],
      o.consumers.map((k) => {
        const slots = k.workers * k.concurrency;
        return h(
          "tr",
          { dataset: { consumer: k.id } },
          td(consumerStatus(k)),
          td(k.id, "mono wrap"),
          td(k.host),
          td(k.pid, "num"),
          td(k.queues === null || k.queues === undefined ? "all" : k.queues.join(", ")),
          td(h("span", { title: `${k.workers} worker(s) × ${k.concurrency} task(s) at once` }, `${fmtNumber(k.busy)} / ${fmtNumber(slots)}`), "num"),
          td(fmtNumber(k.done), "num"),
          td(fmtNumber(k.failed), "num"),
          td(fmtAgo(k.started, o.at)),
          td(fmtAgo(k.lastSeen, o.at)),
          td(`${k.version} · ${k.backend}`, "dim"),
        );
      }),
      [3, 5, 6, 7],
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
  const all = o.throughput || [];
  const first = all.findIndex((p) => p.done || p.failed || p.retried);
  // The hour's minutes from the first with data (at least the last 10): a new queue's chart is not an empty hour.
  const t = first < 0 ? [] : all.slice(Math.max(0, Math.min(first, all.length - 10)));
  if (t.length === 0) {
    return replace($("throughput-chart"), empty("no data yet (filled by the consumers' per-minute statistics, the last hour)"));
  }
  replace(
    $("throughput-chart"),
    lineChart(t.map((p) => p.minute), [
      { label: "done", color: "#1f9d55", values: t.map((p) => p.done) },
      { label: "failed", color: "#d64545", values: t.map((p) => p.failed) },
      { label: "retried", color: "#c98a00", values: t.map((p) => p.retried || 0) },
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
