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
        priority: o.priority,
        retries: o.retries,
        retryDelay: o.retryDelay,
        retryBackoff: o.retryBackoff,
        timeout: o.timeout,
        expires: o.expires,
        unique: o.unique !== false || o.dedup !== null,
        rateLimit: o.rateLimit && { limit: o.rateLimit.limit, per: o.rateLimit.per },
        lock: o.lock,
        results: o.results,
        periodic: periodic.get(name) ?? null,
      }));
      if (a.json) return printJson(rows);
      if (rows.length === 0) return out(style.dim(`${a.file} registers no tasks`));
      const ms = (v: number | null) => (v === null ? "-" : formatDuration(v));
      out(
        table(
          ["NAME", "PRIORITY", "RETRIES", "RETRY DELAY", "TIMEOUT", "UNIQUE", "RATE LIMIT", "LOCK", "SCHEDULE"],
          rows.map((t) => [
            style.cyan(inert(t.name)),
            String(t.priority),
            String(t.retries),
            t.retries > 0 || t.retryDelay > 0 ? `${ms(t.retryDelay)}${t.retryBackoff !== 1 ? ` x${t.retryBackoff}` : ""}` : "-",
            ms(t.timeout),
            t.unique ? "yes" : "-",
            t.rateLimit ? `${t.rateLimit.limit}/${formatDuration(t.rateLimit.per)}` : "-",
            t.lock === null ? "-" : inert(t.lock),
            t.periodic === null ? "-" : inert(t.periodic),
          ]),
          { right: [1, 2] },
        ),
      );
    }, { noStorage: true });
  },
});
