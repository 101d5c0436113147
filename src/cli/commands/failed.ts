import { defineCommand } from "citty";
import { wholeFlag } from "../args";
import { commonArgs, confirm, extraPositionals, fileArg, queueFlag, withHuey } from "../_context";
import { CliError, CliUsageError } from "../errors";
import { formatArgs, formatTime, inert, jsonText, note, out, plural, printJson, style, table, truncate } from "../_output";
import { KEYS, type DeadLetter } from "../../message";
import { deadLetterQueue } from "../../dead-letters";
import { createProgress } from "../_progress";

const args = {
  file: fileArg,
  id: { type: "positional", description: "show this dead letter in full (its error's stack too); with --purge, the one to drop", required: false, valueHint: "ID" },
  limit: { type: "string", description: "list at most N dead letters (default 100)", valueHint: "N" },
  retry: { type: "string", description: "enqueue the failed task ID again (same id, retries restored), or all of them", valueHint: "ID|all" },
  purge: { type: "boolean", description: "drop the dead letter ID (--purge ID), or all of them (--purge; asks first)" },
  queue: { type: "string", description: "only the dead letters of this named queue (the list, --retry all, --purge of all)", valueHint: "QUEUE" },
  yes: { type: "boolean", alias: "y", description: "with --purge of all: do not ask (required when stdin is not a terminal)" },
  ...commonArgs,
} as const;

export default defineCommand({
  meta: {
    name: "failed",
    description:
      "List tasks that failed for good (dead letters: retries used up), oldest first; show one in full; retry or purge them.\n\n" +
      "Examples:\n" +
      "  huey failed tasks.ts\n" +
      "  huey failed tasks.ts 0190a1b2-...\n" +
      "  huey failed tasks.ts --retry all\n" +
      "  huey failed tasks.ts --queue emails --retry all\n" +
      "  huey failed tasks.ts --purge 0190a1b2-...",
  },
  args,
  async run({ args: a, rawArgs }) {
    const inline = rawArgs.find((r) => r.startsWith("--purge="))?.slice("--purge=".length);
    const extra = extraPositionals(rawArgs, args, "failed", 0, a.purge && inline !== undefined ? 0 : 1);
    const purgeId = a.purge ? inline || extra[0] : undefined;
    const showId = a.purge ? undefined : extra[0];
    if (showId !== undefined && a.retry !== undefined) throw new CliUsageError("give an ID to show or --retry, not both (--retry ID retries that one)", "failed");
    if (showId !== undefined && a.limit !== undefined) throw new CliUsageError("--limit goes with the list, not with an ID", "failed");
    if (a.retry !== undefined && a.purge) throw new CliUsageError("give --retry or --purge, not both", "failed");
    if (a.yes && !a.purge) throw new CliUsageError("--yes goes with --purge", "failed");
    const oneId = showId ?? purgeId ?? (a.retry !== undefined && a.retry !== "all" ? a.retry : undefined);
    if (a.queue !== undefined && oneId !== undefined) throw new CliUsageError("--queue goes with the list, --retry all or --purge of all, not with an ID", "failed");
    const limit = wholeFlag(a.limit, "--limit", 1) ?? 100;
    await withHuey(a.file, a.instance, async (huey) => {
      const queue = await queueFlag(huey, a.queue, "failed");
      const of = queue !== undefined ? ` of queue "${queue}"` : "";
      if (a.retry !== undefined) {
        const ids = a.retry === "all" ? (await huey.failed({ limit: Number.MAX_SAFE_INTEGER, queue })).map((d) => d.id) : [a.retry];
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
        return out(ids.length === 0 ? `no failed tasks${of} to retry` : `retried ${plural(ids.length, "task")}${ids.length === 1 ? ` ${inert(ids[0]!)}` : ""}`);
      }
      if (a.purge) {
        if (purgeId !== undefined) {
          if ((await huey.purgeFailed(purgeId)) === 0) throw new CliError(`no failed task with id "${purgeId}" (see huey failed ${a.file})`, undefined, "not_found");
          return a.json ? printJson({ purged: 1 }) : out(`purged failed task ${purgeId}`);
        }
        const count = await huey.failedCount(queue);
        if (count === 0) return a.json ? printJson({ purged: 0 }) : out(`no failed tasks${of} to purge`);
        const what = queue !== undefined ? `of queue "${queue}" in "${huey.name}"` : `of queue "${huey.name}"`;
        await confirm(`Drop all ${plural(count, "failed task")} ${what}? They cannot be retried afterwards.`, a.yes === true, "failed");
        const progress = createProgress("purge", count);
        const n = await huey.purgeFailed(undefined, { onProgress: (done) => progress.update(done, done), queue });
        progress.finish();
        return a.json ? printJson({ purged: n }) : out(`purged ${plural(n, "failed task")}`);
      }
      if (showId !== undefined) {
        const raw = await huey.storage.getData(KEYS.failed + showId, true);
        if (raw === null) throw new CliError(`no failed task with id "${showId}" (see huey failed ${a.file})`, undefined, "not_found");
        const d = view(JSON.parse(raw) as DeadLetter);
        if (a.json) return printJson(d);
        return out(detail(d));
      }
      const rows = (await huey.failed({ limit, queue })).map(view);
      if (a.json) return printJson(rows);
      if (rows.length === 0) return out(style.dim(`no failed tasks${of}`));
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

/** A dead letter as printed and in --json (its stored payload left out). */
function view(d: DeadLetter) {
  return {
    id: d.id,
    name: d.name,
    queue: deadLetterQueue(d),
    args: d.args,
    attempts: d.attempts,
    error: { name: d.error.name, message: d.error.message, code: d.error.code ?? null, stack: d.error.stack ?? null },
    failedAt: d.failedAt,
  };
}

/** One dead letter in full: a line per field, then its stack indented; all task data escaped. */
function detail(d: ReturnType<typeof view>): string {
  const field = (label: string, value: string) => `${style.dim(label.padEnd(10))}${value}`;
  const lines = [
    field("task", style.cyan(inert(d.name))),
    field("id", inert(d.id)),
    field("queue", inert(d.queue)),
    field("args", jsonText(d.args)),
    field("error", style.red(inert(`${d.error.name}: ${d.error.message}`))),
    field("code", d.error.code === null ? style.dim("none") : inert(d.error.code)),
    field("attempts", String(d.attempts)),
    field("failed at", formatTime(d.failedAt)),
  ];
  if (d.error.stack) lines.push(style.dim("stack"), ...d.error.stack.split(/\r?\n/).map((l) => `  ${inert(l)}`));
  else lines.push(field("stack", style.dim("none stored")));
  return lines.join("\n");
}
