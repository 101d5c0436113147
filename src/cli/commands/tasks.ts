import { defineCommand } from "citty";
import { commonArgs, extraPositionals, fileArg, withHuey } from "../_context";
import { formatDuration, inert, out, printJson, style, table } from "../_output";

const args = { file: fileArg, ...commonArgs } as const;

export default defineCommand({
  meta: {
    name: "tasks",
    description: "List the tasks a file registers, with their options.\n\nExamples:\n  huey tasks tasks.ts --json",
  },
  args,
  async run({ args: a, rawArgs }) {
    extraPositionals(rawArgs, args, "tasks", 0, 0);
    await withHuey(a.file, a.instance, async (huey) => {
      const periodic = new Map(huey.periodicTasks().map((p) => [p.name, p.schedule]));
      const rows = huey.tasks().map(({ name, options: o }) => ({
        name,
        queue: o.queue,
        priority: o.priority,
        retries: o.retries,
        retryDelay: o.retryDelay,
        retryBackoff: o.retryBackoff,
        timeout: o.timeout,
        expires: o.expires,
        unique: o.unique !== false || o.dedup !== null,
        dedup: o.dedup && { ttl: o.dedup.ttl, mode: o.dedup.mode },
        rateLimit: o.rateLimit && { limit: o.rateLimit.limit, per: o.rateLimit.per },
        lock: o.lock,
        lockPerKey: o.lockKey !== null,
        concurrency: o.concurrency && { limit: o.concurrency.limit, perKey: o.concurrency.key !== null },
        results: o.results,
        periodic: periodic.get(name) ?? null,
      }));
      if (a.json) return printJson(rows);
      if (rows.length === 0) return out(style.dim(`${a.file} registers no tasks`));
      const ms = (v: number | null) => (v === null ? "-" : formatDuration(v));
      out(
        table(
          ["NAME", "QUEUE", "PRIORITY", "RETRIES", "RETRY DELAY", "TIMEOUT", "UNIQUE", "RATE LIMIT", "LOCK", "CONCURRENCY", "SCHEDULE"],
          rows.map((t) => [
            style.cyan(inert(t.name)),
            inert(t.queue),
            String(t.priority),
            String(t.retries),
            t.retries > 0 || t.retryDelay > 0 ? `${ms(t.retryDelay)}${t.retryBackoff !== 1 ? ` x${t.retryBackoff}` : ""}` : "-",
            ms(t.timeout),
            t.dedup ? `${t.dedup.mode} ${formatDuration(t.dedup.ttl)}` : t.unique ? "yes" : "-",
            t.rateLimit ? `${t.rateLimit.limit}/${formatDuration(t.rateLimit.per)}` : "-",
            t.lock === null ? "-" : t.lockPerKey ? `${inert(t.lock)} per key` : inert(t.lock),
            t.concurrency ? `${t.concurrency.limit}${t.concurrency.perKey ? " per key" : ""}` : "-",
            t.periodic === null ? "-" : inert(t.periodic),
          ]),
          { right: [2, 3] },
        ),
      );
    }, { noStorage: true });
  },
});
