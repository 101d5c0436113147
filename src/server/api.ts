// The JSON API under /api: what the dashboard page reads (overview, lists, a task's detail) and the
// actions it takes (actions.ts). Every answer is JSON; a caller's mistake is a 4xx {"error": "..."},
// anything else a 500 {"error": "internal error ..."} whose detail goes to the server's log only.
import type { Huey } from "../huey";
import { KEYS } from "../message";
import { storageWhere } from "../consumer/maintenance";
import { decode } from "../serializer";
import { VERSION } from "../_version";
import { actions } from "./actions";
import { ApiError, logDetail, userError } from "./errors";
import { ContractLists, doneRow, deadLetterRow, type Counts, type Lists } from "./lists";
import { listQuery } from "./params";
import { SqliteLists } from "./sqlite-lists";
import { consumers, runningOn, throughput } from "./sources";

/** The Huey the server shows; a function, so `huey run --dashboard` can follow a reload. */
export type HueySource = () => Huey;

export interface Api {
  handle(req: Request, url: URL): Promise<Response>;
  close(): void;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: JSON_HEADERS });
}

/** Overviews are cached this long, so many open pages cost one set of counts. */
const OVERVIEW_TTL = 500;
/** Named queues counted one by one in the overview at most. */
const MAX_LANES = 50;

export function createApi(source: HueySource, log: (line: string) => void = () => {}, overviewTtl = OVERVIEW_TTL): Api {
  let lists: { huey: Huey; lists: Lists } | null = null;
  let cached: { huey: Huey; at: number; value: Promise<unknown> } | null = null;
  let counted: { huey: Huey; at: number; value: Promise<Counts> } | null = null;

  /** Counts walk the ready set (O(queued) in SQLite): one set answers every page for overviewTtl. */
  const countsOf = (huey: Huey): Promise<Counts> => {
    const now = Date.now();
    if (counted && counted.huey === huey && now - counted.at < overviewTtl) return counted.value;
    const value = (async () => {
      const paused = await huey.paused(now);
      const lanes = [...new Set([...huey.queues(), ...paused.map((p) => p.queue)])].sort().slice(0, MAX_LANES);
      return listsOf(huey).counts(lanes);
    })();
    counted = { huey, at: now, value };
    value.catch(() => {
      if (counted?.value === value) counted = null;
    });
    return value;
  };

  /** A task list's page, its total from the counts when it is not searched. */
  const taskList = async (huey: Huey, url: URL, kind: "queued" | "running" | "scheduled") => {
    const q = listQuery(url);
    const page = await listsOf(huey)[kind](q);
    if (kind === "running" && page.items.length > 0) {
      // Which consumer runs each task, and since when, where its heartbeat lists it.
      const on = await runningOn(huey, Date.now());
      page.items = page.items.map((t) => ({ ...t, consumer: on.get(t.id)?.consumer ?? null, since: on.get(t.id)?.since ?? null }));
    }
    if (q.q === null) {
      const c = await countsOf(huey);
      page.total = q.queue === null ? c[kind] : (c.lanes.find((l) => l.queue === q.queue)?.[kind] ?? 0);
    }
    return page;
  };

  const listsOf = (huey: Huey): Lists => {
    if (lists?.huey === huey) return lists.lists;
    lists?.lists.close();
    const filename = (huey as unknown as { filename?: unknown }).filename;
    const storage = huey.storage; // opened (and migrated) before a second connection reads the file
    const l = storage.kind === "sqlite" && typeof filename === "string" && filename !== ":memory:" ? new SqliteLists(filename, storage) : new ContractLists(huey);
    lists = { huey, lists: l };
    return l;
  };

  const overviewOf = (huey: Huey): Promise<unknown> => {
    const now = Date.now();
    if (cached && cached.huey === huey && now - cached.at < overviewTtl) return cached.value;
    const value = overview(huey, now, countsOf(huey));
    cached = { huey, at: now, value };
    value.catch(() => {
      if (cached?.value === value) cached = null;
    });
    return value;
  };

  const routes: Record<string, (huey: Huey, req: Request, url: URL) => Promise<unknown>> = {
    "GET /api/overview": (huey) => overviewOf(huey),
    "GET /api/registry": async (huey) => registry(huey),
    "GET /api/queued": (huey, _r, url) => taskList(huey, url, "queued"),
    "GET /api/running": (huey, _r, url) => taskList(huey, url, "running"),
    "GET /api/scheduled": (huey, _r, url) => taskList(huey, url, "scheduled"),
    "GET /api/done": (huey, _r, url) => listsOf(huey).done(listQuery(url), Date.now()),
    "GET /api/failed": (huey, _r, url) => listsOf(huey).failed(listQuery(url)),
  };
  for (const [name, fn] of Object.entries(actions)) {
    routes[`POST /api/${name}`] = async (huey, req) => {
      const r = await fn(huey, req);
      cached = counted = null; // the next overview shows the change
      return r;
    };
  }

  return {
    async handle(req, url) {
      const path = url.pathname.replace(/\/+$/, "");
      try {
        const huey = source();
        const route = routes[`${req.method} ${path}`];
        if (route) return json(200, await route(huey, req, url));
        const task = /^\/api\/tasks\/([^/]+)$/.exec(path);
        if (task && req.method === "GET") return json(200, await detail(huey, listsOf(huey), decodePath(task[1]!)));
        const other = Object.keys(routes).find((k) => k.endsWith(` ${path}`)) ?? (task ? "GET" : undefined);
        if (other) throw new ApiError(405, `${req.method} is not allowed here; use ${other.split(" ")[0]}`);
        throw new ApiError(404, `no API route ${req.method} ${path}; see the README's "Dashboard and HTTP API"`);
      } catch (err) {
        const e = userError(err);
        if (e) return json(e.status, { error: e.message });
        log(logDetail(`${req.method} ${path}`, err));
        return json(500, { error: "internal error; the server's log has the details" });
      }
    },
    close() {
      lists?.lists.close();
      lists = null;
    },
  };
}

function decodePath(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ApiError(400, "the task id in the path is not valid percent-encoding");
  }
}

/** JSON that may have been written by hand or by another version: null when it does not parse. */
function parsed(raw: string | null): unknown {
  if (raw === null) return null;
  try {
    return decode(raw);
  } catch {
    return null;
  }
}

/** Registered tasks, for the enqueue form. */
function registry(huey: Huey) {
  const periodic = new Set(huey.periodicTasks().map((p) => p.name));
  return {
    tasks: huey.tasks().map((t) => ({ name: t.name, queue: t.options.queue, priority: t.options.priority, retries: t.options.retries, periodic: periodic.has(t.name) })),
    queues: huey.queues(),
  };
}

async function overview(huey: Huey, now: number, counts: Promise<Counts>) {
  const s = huey.storage;
  const [c, results, failed, locks, paused, revokedTasks, revokedIds, liveConsumers, perMinute] = await Promise.all([
    counts,
    s.resultCount(),
    s.countData(KEYS.failed),
    s.listLocks(now),
    huey.paused(now),
    s.listData(KEYS.revokedTask, 100),
    s.listData(KEYS.revokedId, 100),
    consumers(huey, now),
    throughput(huey, now),
  ]);
  const pausedBy = new Map(paused.map((p) => [p.queue, p.until]));
  const queues = c.lanes.map((l) => ({ ...l, paused: pausedBy.has(l.queue), until: pausedBy.get(l.queue) ?? null }));
  const periodic = await Promise.all(
    huey.periodicTasks(now).map(async (p) => {
      const claims = await s.listData(`periodic:${p.name}:`, 500);
      const ticks = claims.map((c) => Number(c.key.slice(`periodic:${p.name}:`.length))).filter(Number.isFinite);
      return { ...p, lastRun: ticks.length ? Math.max(...ticks) : null };
    }),
  );
  const revocation = (raw: string) => {
    try {
      const r = JSON.parse(raw) as { until?: unknown; once?: unknown };
      return { until: typeof r.until === "number" ? r.until : null, once: r.once === true };
    } catch {
      return { until: null, once: false };
    }
  };
  const live = (r: { until: number | null }) => r.until === null || r.until > now;
  return {
    queue: huey.name,
    storage: s.kind,
    database: storageWhere(s).replace(/^ at /, "") || null,
    version: VERSION,
    at: now,
    counts: { queued: c.queued, running: c.running, scheduled: c.scheduled, results, failed },
    queues,
    paused,
    periodic,
    locks: locks.map((l) => ({ key: l.key, owner: l.owner, until: l.until, fence: l.fence })),
    revoked: {
      tasks: revokedTasks.map((r) => ({ task: r.key.slice(KEYS.revokedTask.length), ...revocation(r.value) })).filter(live),
      ids: revokedIds.map((r) => ({ id: r.key.slice(KEYS.revokedId.length), ...revocation(r.value) })).filter(live),
    },
    consumers: liveConsumers,
    throughput: perMinute,
  };
}

/**
 * Everything known about one task id: its state (huey.state: where it is in its life), its log lines and
 * timeline (huey.taskLog), its list row, message, result, dead letter, revocation and progress.
 */
async function detail(huey: Huey, lists: Lists, id: string) {
  if (id.length > 1000) throw new ApiError(400, "the task id is too long");
  const s = huey.storage;
  const now = Date.now();
  const [found, result, dead, revoked, progress, status, log] = await Promise.all([
    lists.find(id),
    s.getResult(id, true, now),
    s.getData(KEYS.failed + id, true),
    s.getData(KEYS.revokedId + id, true),
    s.getData(KEYS.progress + id, true),
    huey.state(id, { now }),
    huey.taskLog(id),
  ]);
  const deadLetter = dead === null ? null : deadLetterRow(dead);
  let message: Record<string, unknown> | null = found?.message ?? null;
  if (message === null && dead !== null) {
    const payload = (parsed(dead) as { payload?: unknown } | null)?.payload;
    message = typeof payload === "string" ? (parsed(payload) as Record<string, unknown> | null) : null;
  }
  // huey.state reads by id; what it cannot judge (an unreadable dead letter) the lists and stores still tell.
  const state: string = status.state !== "unknown" ? status.state : (found?.state ?? (dead !== null ? "failed" : result !== null ? "done" : "unknown"));
  const logged = log.events.length > 0 || log.lines.length > 0;
  if (state === "unknown" && !logged) {
    throw new ApiError(404, `no task with id ${JSON.stringify(id)} is known: not queued, running or scheduled, and no result, dead letter or log record is stored`);
  }
  return {
    id,
    state,
    status,
    log,
    task: found?.row ?? null,
    message,
    result: result === null ? null : doneRow(id, result),
    deadLetter,
    revoked: parsed(revoked),
    progress: parsed(progress),
  };
}
