/// <reference lib="webworker" />
// Runs inside each Bun Worker: load the tasks file once, then run what the consumer sends.
import * as api from "../index";
import { escapeControl } from "../_text";
import { serializeError } from "../errors";
import { execute, type Outcome } from "../executor";
import type { Huey } from "../huey";
import { encode } from "../serializer";
import { onBlockingGet } from "../result";
import { loadTasksFile, registerModulePlugin } from "./loader";
import { internalsOf } from "../_internals";
import { addDone, decodeRun, doneColumns, encodeReport, type HostMessage, type WorkerMessage } from "./protocol";
import { LazyAbort, runInfo } from "./pool";
import { LogCollector } from "../task-log";
import type { Message } from "../message";

declare const self: Worker;

registerModulePlugin(api as unknown as Record<string, unknown>);
// The tasks file's "bun-huey" is this module graph: its Results report blocking waits to the consumer.
onBlockingGet((child) => {
  if (running.size === 0) return;
  // The consumer counts free slots from the "started" reports, and this task's own start usually still
  // sits in the batched report (sent at the end of the turn): a "waiting" ahead of it counted the task's
  // own slot as free, so the deadlock warning never fired. Send the report first (messages keep order).
  reportNow();
  post({ type: "waiting", child, running: [...running.keys()] });
});

let huey: Huey | null = null;
let concurrency = 1;
/** The consumer's default task timeout: tasks with a timeout report their start at once. */
let defaultTimeout: number | null = null;
let maxPayloadSize = 1024 * 1024;
const queue: { id: string; payload: string; fence?: number }[] = [];
/** Running tasks: their AbortController, and `fail` to end them with an error from outside their promise. */
const running = new Map<string, { abort: LazyAbort; fail: (err: unknown) => void }>();
let stopping = false;
let started: string[] = [];
let done = doneColumns();
/** Report every task's RunInfo (the consumer logs at info). */
let allRunInfo = false;
let reportScheduled = false;

function post(msg: WorkerMessage): void {
  self.postMessage(msg);
}

// One report per event-loop turn: a burst of short tasks costs one message, not one per task.
function scheduleReport(): void {
  if (reportScheduled) return;
  reportScheduled = true;
  setImmediate(() => {
    reportScheduled = false;
    if (started.length === 0 && done.ids.length === 0) return;
    post(encodeReport(started, done));
    started = [];
    done = doneColumns();
  });
}

/** Send what is pending now, not at the end of the turn. */
function reportNow(): void {
  if (started.length === 0 && done.ids.length === 0) return;
  post(encodeReport(started, done));
  started = [];
  done = doneColumns();
}

// A task that calls process.exit() or throws outside its promise ends this Worker before the
// batched report goes out. Bun runs "exit" handlers in a Worker and delivers what they post, so
// the consumer still learns which task was running (and retries or fails it, once).
process.on("exit", reportNow);

/**
 * An error nobody caught (a throw from a timer, a rejection nobody handled) would end this Worker,
 * and every task it had not yet reported as started would be run again on the next one, until
 * maxLeases. Instead it is the error outcome of the task(s) running now (which one caused it
 * cannot be told), whose AbortSignals fire; with none running it is logged. The Worker stays.
 */
function onStray(kind: string, err: unknown): void {
  if (running.size === 0) {
    // Escaped as the text log is (this goes to the same stderr): the stack as indented lines.
    const e = serializeError(err);
    const stack = e.stack ? e.stack.split(/\r\n|\n/).map((l) => `\n    ${escapeControl(l)}`).join("") : "";
    console.error(`bun-huey: ${kind} in a worker while no task was running: ${escapeControl(`${e.name}: ${e.message}`)}${stack}`);
    return;
  }
  for (const task of [...running.values()]) task.fail(err);
}
process.on("uncaughtException", (err) => onStray("an uncaught exception", err));
process.on("unhandledRejection", (reason) => onStray("an unhandled rejection", reason));

function pump(): void {
  while (!stopping && running.size < concurrency && queue.length > 0) {
    const task = queue.shift()!;
    void runOne(task);
  }
}

/**
 * A task is "started" once decoded, checked (not expired, known) and about to run. A task with a
 * timeout reports that at once: a synchronous loop would block the batched report, and the
 * consumer arms the timeout when it hears of the start.
 */
function markStarted(id: string, name: string): void {
  started.push(id);
  const timeout = (huey && internalsOf(huey).registry.lookup(name)?.options.timeout) ?? defaultTimeout;
  if (timeout !== null) {
    reportNow();
  } else {
    scheduleReport();
  }
}

async function runOne(task: { id: string; payload: string; fence?: number }): Promise<void> {
  const t0 = performance.now();
  const h = huey!;
  const abort = new LazyAbort();
  const log = new LogCollector();
  let started: Message | null = null;
  // The first of: what execute() returns, or an error from outside the task (onStray). Whichever
  // comes second is dropped, so each task reports one outcome.
  const outcome = await new Promise<Outcome>((resolve) => {
    running.set(task.id, {
      abort,
      fail: (err) => {
        const error = serializeError(err);
        resolve({ kind: "error", error });
        abort.abort(new DOMException(`the task failed outside its promise: ${error.name}: ${error.message}`, "AbortError"));
      },
    });
    execute(task.payload, {
      lookup: (n) => internalsOf(h).registry.lookup(n),
      maxPayloadSize,
      hooks: internalsOf(h).registry.hooks,
      signal: () => abort.signal,
      lockFence: task.fence ?? null,
      log,
      onStart: (m) => {
        started = m;
        markStarted(task.id, m.name);
      },
      onProgress: (value) => {
        try {
          post({ type: "progress", id: task.id, value: encode(value, "ctx.progress() value") });
        } catch (err) {
          console.error(`bun-huey: ${serializeError(err).message}`);
        }
      },
    }).then(resolve, (err: unknown) => resolve({ kind: "error", error: serializeError(err) }));
  });
  running.delete(task.id);
  const m = started as Message | null;
  const run = runInfo(m, m !== null && internalsOf(h).registry.lookup(m.name)?.context === true, outcome, log, allRunInfo);
  addDone(done, task.id, outcome, performance.now() - t0, run);
  pump();
  // Nothing queued or running: nothing can join the batched report in this turn, so it goes now,
  // not a turn of the event loop later (a lone task's latency).
  if (running.size === 0 && queue.length === 0) reportNow();
  else scheduleReport();
  if (stopping && running.size === 0) void finish();
}

let finished = false;
async function finish(): Promise<void> {
  if (finished) return;
  finished = true;
  for (const fn of (huey ? internalsOf(huey).registry.hooks.shutdown : [])) {
    try {
      await fn();
    } catch (err) {
      console.error("bun-huey: an onShutdown hook threw:", err);
    }
  }
  // Let the last report go out before saying we are done.
  setImmediate(() => post({ type: "stopped" }));
}

self.onmessage = async (event: MessageEvent<HostMessage>) => {
  const msg = event.data;
  if (typeof msg === "string" || msg.type === "run") {
    // A "run" message (encodeRun): the tasks to run.
    const { ids, payloads, fences } = decodeRun(msg);
    for (let i = 0; i < ids.length; i++) {
      const fence = fences?.[i];
      queue.push(fence === undefined || fence === null ? { id: ids[i]!, payload: payloads[i]! } : { id: ids[i]!, payload: payloads[i]!, fence });
    }
    pump();
    return;
  }
  switch (msg.type) {
    case "init": {
      maxPayloadSize = msg.maxPayloadSize;
      concurrency = msg.concurrency;
      defaultTimeout = msg.timeout;
      allRunInfo = msg.runInfo === true;
      try {
        const loaded = await loadTasksFile(msg.file, msg.instance);
        huey = loaded.huey;
        internalsOf(huey).registry.forwardSignals((signal, task) => post({ type: "signal", signal, task }));
        for (const fn of internalsOf(huey).registry.hooks.startup) await fn();
        post({ type: "ready", tasks: huey.taskNames() });
      } catch (err) {
        post({ type: "load-error", error: serializeError(err) });
      }
      return;
    }
    case "abort":
      running.get(msg.id)?.abort.abort(new DOMException(msg.reason, "AbortError"));
      return;
    case "give-back": {
      const ids = queue.splice(0).map((t) => t.id);
      if (ids.length) post({ type: "returned", ids });
      return;
    }
    case "stop": {
      stopping = true;
      const ids = queue.splice(0).map((t) => t.id);
      post({ type: "returned", ids });
      if (running.size === 0) void finish();
      return;
    }
  }
};
