// The dashboard page's task detail: the task's state (huey.state), its actions, its log lines and timeline
// (huey.taskLog), its result or error and the stored message. Loaded after dom.js, before app.js; every
// value goes in as text (control characters of log lines shown escaped).
"use strict";

/** The badge colour of each state. */
const STATE_BADGE = { queued: "", scheduled: "", running: "ok", done: "ok", failed: "bad", canceled: "warn", revoked: "warn", expired: "warn", unknown: "" };

async function openDetail(id) {
  state.detail = id;
  $("detail").hidden = false;
  $("detail-id").textContent = id;
  await refreshDetail();
  $("detail").scrollIntoView({ block: "nearest" });
}

/** "at (5m ago)" for a time, or "–". */
function when(ms, now) {
  return ms === null || ms === undefined ? "–" : `${fmtTime(ms)} (${fmtAgo(ms, now)})`;
}

/** The facts huey.state(id) gives for the state the task is in: [label, value] pairs. */
function stateFacts(s, now) {
  const attempt = (a, retries) => (typeof retries === "number" ? `${a} of ${a + retries}` : `${a}`);
  switch (s.state) {
    case "queued":
      return [
        ["task", s.name], ["queue", s.queue], ["priority", s.priority], ["attempt", attempt(s.attempt, s.retries)],
        ["enqueued", when(s.enqueuedAt, now)], s.revoked ? ["revoked", "yes: a consumer will skip it"] : null,
      ];
    case "scheduled":
      return [
        ["task", s.name], ["queue", s.queue], ["runs", when(s.eta, now)], ["priority", s.priority],
        ["attempt", attempt(s.attempt, s.retries)], s.revoked ? ["revoked", "yes: a consumer will skip it"] : null,
      ];
    case "running":
      return [
        ["task", s.name], ["queue", s.queue], ["since", s.since === null ? "– (no heartbeat lists it)" : when(s.since, now)],
        ["attempt", attempt(s.attempt, s.retries)], ["consumer", s.consumer ?? "– (no heartbeat lists it)"],
        ["lease ends", when(s.leasedUntil, now)], s.leases > 1 ? ["leases", `${s.leases} (taken again after a lost lease)`] : null,
        s.progress !== undefined ? ["progress", preview(s.progress, 200)] : null,
      ];
    case "done":
      return [["finished", when(s.at, now)], ["result", s.result ? "stored" : "not stored (results off, read, or expired)"]];
    case "failed":
      return [
        ["error", `${s.error.name}: ${s.error.message}`], ["failed", when(s.at, now)],
        ["attempts", s.attempts === null ? "–" : s.attempts], ["dead letter", s.deadLetter ? "yes (retry or purge it)" : "no"],
      ];
    case "canceled":
      return [["canceled", when(s.at, now)], s.error ? ["why", s.error] : null];
    case "revoked":
      return [["skipped as revoked", when(s.at, now)]];
    case "expired":
      return [["skipped as expired", when(s.at, now)]];
    default:
      return [["state", "unknown: nothing but what is shown below is stored under this id"]];
  }
}

function factsList(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, visible(String(v)))]));
}

function logTable(log) {
  if (log.lines.length === 0) return empty("no log lines (the task wrote none with ctx.log, or has not finished a run yet)");
  return [
    table(
      ["time", "attempt", "level", "line"],
      log.lines.map((l) => h("tr", { class: l.level ? `level-${l.level}` : null }, td(fmtClock(l.at), "mono nowrap"), td(l.attempt, "num"), td(l.level || ""), td(visible(l.message), "logline"))),
      [1],
    ),
    log.dropped > 0 ? h("p", { class: "dim" }, `${fmtNumber(log.dropped)} more line(s) were not kept (at most 100 a run)`) : null,
  ];
}

function timelineTable(events, now) {
  if (events.length === 0) return empty("no events recorded yet");
  return table(
    ["time", "attempt", "event", ""],
    events.map((e) =>
      h("tr", {},
        td(fmtClock(e.at), "mono nowrap"),
        td(e.attempt, "num"),
        td(h("span", { class: `badge ${e.event === "complete" ? "ok" : e.error ? "bad" : e.event === "retrying" ? "warn" : ""}` }, e.event)),
        td(visible([e.eta !== undefined ? `next attempt ${when(e.eta, now)}` : "", e.error || ""].filter(Boolean).join(" · ")), "logline"),
      ),
    ),
    [1],
  );
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
  const now = Date.now();
  const actions = [h("span", { class: `badge state ${STATE_BADGE[d.state] ?? ""}` }, d.state)];
  if (d.state === "queued" || d.state === "scheduled" || d.state === "running") {
    actions.push(d.revoked ? button("restore", () => act("/api/restore", { id })) : button("revoke", () => act("/api/revoke", { id }), "danger"));
  }
  if (d.state === "failed" && d.deadLetter) actions.push(button("retry", () => act("/api/retry", { id })), button("purge", () => act("/api/purge", { id }), "danger"));
  replace($("detail-actions"), actions);
  const parts = [];
  const section = (title, value) => parts.push(h("h3", {}, title), h("pre", {}, visible(typeof value === "string" ? value : pretty(value))));
  parts.push(h("div", { class: "detail-grid" },
    h("div", {}, h("h3", {}, "state"), factsList(stateFacts(d.status || { state: d.state }, now))),
    h("div", {}, h("h3", {}, "timeline"), timelineTable(d.log ? d.log.events : [], now)),
  ));
  parts.push(h("h3", {}, `log${d.log && d.log.lines.length ? ` (${d.log.lines.length} line${d.log.lines.length === 1 ? "" : "s"})` : ""}`), h("div", { class: "log" }, logTable(d.log || { lines: [], dropped: 0 })));
  const t = d.task || d.deadLetter;
  if (t) section("task", { name: t.name, args: t.args, queue: t.queue, priority: t.priority, attempt: t.attempt, retries: t.retries, eta: t.eta, attempts: t.attempts });
  if (d.result) section(d.result.ok ? "result" : "result (failure)", d.result.ok ? d.result.value : d.result.error);
  if (d.deadLetter) {
    section("error", `${d.deadLetter.error.name}: ${d.deadLetter.error.message}`);
    if (d.deadLetter.error.stack) section("stack", d.deadLetter.error.stack);
    parts.push(h("p", { class: "dim" }, `failed ${fmtTime(d.deadLetter.failedAt)} after ${d.deadLetter.attempts} attempt(s)`));
  }
  if (d.result && !d.result.ok && d.result.error && d.result.error.stack) section("stack", d.result.error.stack);
  if (d.progress !== null && d.state !== "running") section("progress", d.progress);
  if (d.revoked) section("revoked", d.revoked);
  if (d.message) section("stored message", d.message);
  replace($("detail-body"), parts);
}
