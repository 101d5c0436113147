import { defineCommand } from "citty";
import { wholeFlag } from "../args";
import { commonArgs, confirm, extraPositionals, fileArg, withHuey } from "../_context";
import { CliError, CliUsageError } from "../errors";
import { formatArgs, formatTime, inert, note, out, plural, printJson, style, table, truncate } from "../_output";
import { createProgress } from "../_progress";

const args = {
  file: fileArg,
  limit: { type: "string", description: "list at most N dead letters (default 100)", valueHint: "N" },
  retry: { type: "string", description: "enqueue the failed task ID again (same id, retries restored), or all of them", valueHint: "ID|all" },
  purge: { type: "boolean", description: "drop the dead letter ID (--purge ID), or all of them (--purge; asks first)" },
  yes: { type: "boolean", alias: "y", description: "with --purge of all: do not ask (required when stdin is not a terminal)" },
  ...commonArgs,
} as const;

export default defineCommand({
  meta: {
    name: "failed",
    description:
      "List tasks that failed for good (dead letters: retries used up), oldest first; retry or purge them.\n\n" +
      "Examples:\n" +
      "  huey failed tasks.ts\n" +
      "  huey failed tasks.ts --retry all\n" +
      "  huey failed tasks.ts --purge 0190a1b2-...",
  },
  args,
  async run({ args: a, rawArgs }) {
    const inline = rawArgs.find((r) => r.startsWith("--purge="))?.slice("--purge=".length);
    const extra = extraPositionals(rawArgs, args, "failed", 0, a.purge && inline === undefined ? 1 : 0);
    const purgeId = inline || extra[0];
    if (a.retry !== undefined && a.purge) throw new CliUsageError("give --retry or --purge, not both", "failed");
    if (a.yes && !a.purge) throw new CliUsageError("--yes goes with --purge", "failed");
    const limit = wholeFlag(a.limit, "--limit", 1) ?? 100;
    await withHuey(a.file, a.instance, async (huey) => {
      if (a.retry !== undefined) {
        const ids = a.retry === "all" ? (await huey.failed({ limit: Number.MAX_SAFE_INTEGER })).map((d) => d.id) : [a.retry];
        const progress = createProgress("retry", ids.length);
        try {
          for (const [i, id] of ids.entries()) {
            await huey.retryFailed(id).catch((err: { code?: string; message?: string }) => {
              throw err?.code === "HUEY_CONFIGURATION" ? new CliError(`no failed task with id "${id}" (see huey failed ${a.file})`, undefined, "not_found") : err;
            });
            progress.update(i + 1, i + 1);
          }
        } finally {
          progress.finish();
        }
        if (a.json) return printJson({ retried: ids });
        return out(ids.length === 0 ? "no failed tasks to retry" : `retried ${plural(ids.length, "task")}${ids.length === 1 ? ` ${inert(ids[0]!)}` : ""}`);
      }
      if (a.purge) {
        if (purgeId !== undefined) {
          if ((await huey.purgeFailed(purgeId)) === 0) throw new CliError(`no failed task with id "${purgeId}" (see huey failed ${a.file})`, undefined, "not_found");
          return a.json ? printJson({ purged: 1 }) : out(`purged failed task ${purgeId}`);
        }
        const count = await huey.failedCount();
        if (count === 0) return a.json ? printJson({ purged: 0 }) : out("no failed tasks to purge");
        await confirm(`Drop all ${plural(count, "failed task")} of queue "${huey.name}"? They cannot be retried afterwards.`, a.yes === true, "failed");
        const progress = createProgress("purge", count);
        const n = await huey.purgeFailed(undefined, { onProgress: (done) => progress.update(done, done) });
        progress.finish();
        return a.json ? printJson({ purged: n }) : out(`purged ${plural(n, "failed task")}`);
      }
      const list = await huey.failed({ limit });
      const rows = list.map((d) => ({
        id: d.id,
        name: d.name,
        args: d.args,
        attempts: d.attempts,
        error: { name: d.error.name, message: d.error.message, code: d.error.code ?? null, stack: d.error.stack ?? null },
        failedAt: d.failedAt,
      }));
      if (a.json) return printJson(rows);
      if (rows.length === 0) return out(style.dim("no failed tasks"));
      out(
        table(
          ["ID", "NAME", "ARGS", "ATTEMPTS", "ERROR", "FAILED AT"],
          rows.map((d) => [
            inert(d.id),
            style.cyan(inert(d.name)),
            formatArgs(d.args, 30),
            String(d.attempts),
            style.red(truncate(inert(`${d.error.name}: ${d.error.message}`.replace(/\s+/g, " ")), 60)),
            formatTime(d.failedAt),
          ]),
          { right: [3] },
        ),
      );
      if (rows.length === limit) note(`showing the first ${limit} (--limit N for more)`);
    });
  },
});
