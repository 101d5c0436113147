// The dashboard page's task lists: the tabs (queued, running, scheduled, done, failed), a page of rows with
// search, the queue filter and paging. Loaded after dom.js, before app.js; every value goes in as text.
"use strict";

const PAGE_SIZE = 25;
const LISTS = [
  ["queued", "queued"],
  ["running", "running"],
  ["scheduled", "scheduled"],
  ["done", "done"],
  ["failed", "failed"],
];

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
  const extra = kind === "scheduled" ? ["runs"] : kind === "running" ? ["consumer", "since", "lease ends"] : [];
  return table(
    ["id", "task", "queue", "priority", "args", "attempt", ...extra, ""],
    page.items.map((t) =>
      h("tr", { class: "clickable", dataset: { id: t.id }, onclick: () => openDetail(t.id) },
        taskCells(t, now),
        kind === "scheduled" ? td(fmtAgo(t.eta, now)) : null,
        kind === "running" ? [td(t.consumer || "–", "mono wrap"), td(t.since ? fmtAgo(t.since, now) : "–"), td(t.leasedUntil ? fmtAgo(t.leasedUntil, now) : "–")] : null,
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

