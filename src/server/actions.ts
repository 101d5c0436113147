// The API's actions (POST /api/<name>, a JSON body): each calls one public method of the Huey and
// answers what it did. Checks come first, so a bad request changes nothing.
import type { Huey } from "../huey";
import { internalsOf } from "../_internals";
import { KEYS } from "../message";
import { ApiError } from "./errors";
import { boolField, enqueueOptions, jsonBody, onlyKeys, stringField, timeField } from "./params";

type Action = (huey: Huey, req: Request) => Promise<unknown>;

function taskDef(huey: Huey, name: string) {
  const reg = internalsOf(huey).registry.lookup(name);
  if (!reg) {
    const names = huey.taskNames();
    throw new ApiError(404, `no task named ${JSON.stringify(name)}; registered: ${names.length ? names.join(", ") : "(none)"}`);
  }
  return reg.def;
}

/** {id} or {task}, exactly one. */
function target(body: Record<string, unknown>, what: string): { id: string; task?: undefined } | { task: string; id?: undefined } {
  const id = stringField(body, "id", what);
  const task = stringField(body, "task", what);
  if ((id === undefined) === (task === undefined)) throw new ApiError(400, `${what}: give "id" (one task) or "task" (every call of a task name), not both or neither`);
  return id !== undefined ? { id } : { task: task! };
}

export const actions: Record<string, Action> = {
  /** {task, args?: [...], options?: {delay, eta, priority, queue, retries, retryDelay, expires, id}} -> {id, task, eta} */
  async enqueue(huey, req) {
    const body = await jsonBody(req);
    onlyKeys(body, ["task", "args", "options"], "enqueue");
    const name = stringField(body, "task", "enqueue", true);
    const args = body.args ?? [];
    if (!Array.isArray(args)) throw new ApiError(400, `enqueue: "args" must be a JSON array of the task's arguments, such as [1, 2]; got ${JSON.stringify(args)}`);
    const options = enqueueOptions(body.options);
    const def = taskDef(huey, name);
    const r = await def.schedule(args, options as never);
    const eta = options.eta !== undefined ? Number(options.eta) : null;
    return { id: r.id, task: name, eta };
  },

  /** {id} -> {retried: id}: the dead letter enqueued again, same id, retries restored. */
  async retry(huey, req) {
    const body = await jsonBody(req);
    onlyKeys(body, ["id"], "retry");
    const id = stringField(body, "id", "retry", true);
    if ((await huey.storage.getData(KEYS.failed + id, true)) === null) throw new ApiError(404, `no failed task with id ${JSON.stringify(id)}`);
    await huey.retryFailed(id);
    return { retried: id };
  },

  /** {id} drops one dead letter, {all: true} every one -> {purged: n} */
  async purge(huey, req) {
    const body = await jsonBody(req);
    onlyKeys(body, ["id", "all"], "purge");
    const id = stringField(body, "id", "purge");
    const all = boolField(body, "all", "purge");
    if ((id === undefined) === (all !== true)) throw new ApiError(400, `purge: give "id" (one dead letter) or "all": true (every one), not both or neither`);
    const n = await huey.purgeFailed(id);
    if (id !== undefined && n === 0) throw new ApiError(404, `no failed task with id ${JSON.stringify(id)}`);
    return { purged: n };
  },

  /** {id | task, until?, once?} -> {id, task, until, once} */
  async revoke(huey, req) {
    const body = await jsonBody(req);
    onlyKeys(body, ["id", "task", "until", "once"], "revoke");
    const t = target(body, "revoke");
    const until = body.until === undefined || body.until === null ? undefined : timeField(body.until, "until", "revoke");
    const once = boolField(body, "once", "revoke");
    if (until !== undefined && once) throw new ApiError(400, `revoke: give "until" or "once", not both`);
    const o = { ...(until !== undefined && { until }), ...(once !== undefined && { once }) };
    if (t.id !== undefined) {
      if (!(await huey.storage.hasTask(t.id))) throw new ApiError(404, `no task with id ${JSON.stringify(t.id)} is queued, scheduled or running (finished tasks cannot be revoked)`);
      await huey.revokeById(t.id, o);
    } else {
      await taskDef(huey, t.task).revoke(o);
    }
    return { id: t.id ?? null, task: t.task ?? null, until: until ?? null, once: once ?? false };
  },

  /** {id | task} -> {id, task, restored} */
  async restore(huey, req) {
    const body = await jsonBody(req);
    onlyKeys(body, ["id", "task"], "restore");
    const t = target(body, "restore");
    const restored = t.id !== undefined ? await huey.restoreById(t.id) : await taskDef(huey, t.task).restore();
    return { id: t.id ?? null, task: t.task ?? null, restored };
  },

  /** {key} frees one lock, {all: true} every one -> {freed: n} */
  async "flush-lock"(huey, req) {
    const body = await jsonBody(req);
    onlyKeys(body, ["key", "all"], "flush-lock");
    const key = stringField(body, "key", "flush-lock");
    const all = boolField(body, "all", "flush-lock");
    if ((key === undefined) === (all !== true)) throw new ApiError(400, `flush-lock: give "key" (one lock) or "all": true (every lock), not both or neither`);
    return { freed: key !== undefined ? await huey.flushLocks(key) : await huey.flushLocks() };
  },

  /** {queue, for?} -> {queue, until} */
  async pause(huey, req) {
    const body = await jsonBody(req);
    onlyKeys(body, ["queue", "for"], "pause");
    const queue = stringField(body, "queue", "pause", true);
    const f = body.for;
    if (f !== undefined && f !== null && !(typeof f === "string" && f !== "") && !(typeof f === "number" && Number.isFinite(f))) {
      throw new ApiError(400, `pause: "for" must be milliseconds or a duration such as "10m", got ${JSON.stringify(f)}`);
    }
    return huey.pause(queue, f === undefined || f === null ? {} : { for: f as never });
  },

  /** {queue} -> {queue, wasPaused} */
  async resume(huey, req) {
    const body = await jsonBody(req);
    onlyKeys(body, ["queue"], "resume");
    const queue = stringField(body, "queue", "resume", true);
    return { queue, wasPaused: await huey.resume(queue) };
  },
};
