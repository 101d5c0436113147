/// <reference lib="webworker" />
// Runs inside each Bun Worker: load the tasks file once, then run what the consumer sends.
import * as api from "../index";
import { serializeError } from "../errors";
import { execute, type Outcome } from "../executor";
import type { Huey } from "../huey";
import { loadTasksFile, registerModulePlugin } from "./loader";
import type { HostMessage, WorkerMessage } from "./protocol";

declare const self: Worker;

registerModulePlugin(api as unknown as Record<string, unknown>);

let huey: Huey | null = null;
let concurrency = 1;
let maxPayloadSize = 1024 * 1024;
const queue: { id: string; payload: string }[] = [];
let running = 0;
let stopping = false;
let started: string[] = [];
let done: { id: string; outcome: Outcome; ms: number }[] = [];
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
    if (started.length === 0 && done.length === 0) return;
    post({ type: "report", started, done });
    started = [];
    done = [];
  });
}

function pump(): void {
  while (!stopping && running < concurrency && queue.length > 0) {
    const task = queue.shift()!;
    running++;
    started.push(task.id);
    scheduleReport();
    void runOne(task);
  }
}

async function runOne(task: { id: string; payload: string }): Promise<void> {
  const t0 = performance.now();
  const h = huey!;
  const outcome = await execute(task.payload, (n) => h.lookup(n), maxPayloadSize);
  running--;
  done.push({ id: task.id, outcome, ms: performance.now() - t0 });
  scheduleReport();
  pump();
}

self.onmessage = async (event: MessageEvent<HostMessage>) => {
  const msg = event.data;
  switch (msg.type) {
    case "init": {
      maxPayloadSize = msg.maxPayloadSize;
      concurrency = msg.concurrency;
      try {
        const loaded = await loadTasksFile(msg.file, msg.instance);
        huey = loaded.huey;
        huey.forwardSignals((signal, task) => post({ type: "signal", signal, task }));
        post({ type: "ready", tasks: huey.taskNames() });
      } catch (err) {
        post({ type: "load-error", error: serializeError(err) });
      }
      return;
    }
    case "run":
      for (const t of msg.tasks) queue.push(t);
      pump();
      return;
    case "stop": {
      stopping = true;
      const ids = queue.splice(0).map((t) => t.id);
      post({ type: "returned", ids });
      return;
    }
  }
};
