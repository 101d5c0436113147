import { defineCommand } from "citty";
import { wholeFlag } from "../args";
import { commonArgs, extraPositionals, fileArg, queueFlag, withHuey } from "../_context";
import { formatArgs, formatWhen, inert, note, out, printJson, style, table } from "../_output";

const args = {
  file: fileArg,
  limit: { type: "string", description: "show at most N tasks (default 100)", valueHint: "N" },
  queue: { type: "string", description: "only tasks of this named queue (the task option queue; an unknown name lists the known ones)", valueHint: "QUEUE" },
  ...commonArgs,
} as const;

export const pending = defineCommand({
  meta: {
    name: "pending",
    description:
      "List tasks waiting to run, in run order (priority, then enqueue order); running ones are marked leased.\n\n" +
      "Examples:\n  huey pending tasks.ts --limit 20\n  huey pending tasks.ts --queue emails --json",
  },
  args,
  async run({ args: a, rawArgs }) {
    extraPositionals(rawArgs, args, "pending", 0, 0);
    const limit = wholeFlag(a.limit, "--limit", 1) ?? 100;
    await withHuey(a.file, a.instance, async (huey) => {
      const queue = await queueFlag(huey, a.queue, "pending");
      const list = await huey.pending({ limit, queue });
      const rows = list.map((t) => ({ id: t.id, name: t.name, queue: t.queue, args: t.args, priority: t.priority, attempt: t.attempt, retries: t.retries, leased: t.leased }));
      if (a.json) return printJson(rows);
      if (rows.length === 0) return out(style.dim(queue !== undefined ? `no pending tasks in queue "${queue}"` : "no pending tasks"));
      out(
        table(
          ["ID", "NAME", "ARGS", "PRIORITY", "STATE"],
          rows.map((t) => [inert(t.id), style.cyan(inert(t.name)), formatArgs(t.args), String(t.priority), t.leased ? style.yellow("leased") : "ready"]),
          { right: [3] },
        ),
      );
      if (rows.length === limit) {
        const total = (await huey.pendingCount(queue)) + (await huey.storage.leasedCount(queue));
        if (total > limit) note(`showing ${limit} of ${total} (--limit N for more)`);
      }
    });
  },
});

export const scheduled = defineCommand({
  meta: {
    name: "scheduled",
    description:
      "List tasks waiting for their time (delayed tasks and retries), earliest first.\n\nExamples:\n  huey scheduled tasks.ts --json\n  huey scheduled tasks.ts --queue reports",
  },
  args,
  async run({ args: a, rawArgs }) {
    extraPositionals(rawArgs, args, "scheduled", 0, 0);
    const limit = wholeFlag(a.limit, "--limit", 1) ?? 100;
    await withHuey(a.file, a.instance, async (huey) => {
      const queue = await queueFlag(huey, a.queue, "scheduled");
      const list = await huey.scheduled({ limit, queue });
      const rows = list.map((t) => ({ id: t.id, name: t.name, queue: t.queue, args: t.args, priority: t.priority, attempt: t.attempt, retries: t.retries, eta: t.eta }));
      if (a.json) return printJson(rows);
      if (rows.length === 0) return out(style.dim(queue !== undefined ? `no scheduled tasks in queue "${queue}"` : "no scheduled tasks"));
      const now = Date.now();
      out(
        table(
          ["ID", "NAME", "ARGS", "PRIORITY", "ETA"],
          rows.map((t) => [inert(t.id), style.cyan(inert(t.name)), formatArgs(t.args), String(t.priority), formatWhen(t.eta, now)]),
          { right: [3] },
        ),
      );
      if (rows.length === limit) {
        const total = await huey.scheduledCount(queue);
        if (total > limit) note(`showing ${limit} of ${total} (--limit N for more)`);
      }
    });
  },
});
