import { defineCommand } from "citty";
import { timeFlag } from "../args";
import { commonArgs, extraPositionals, fileArg, taskDef, withHuey } from "../_context";
import { CliUsageError } from "../errors";
import { formatWhen, out, printJson } from "../_output";

const idArg = { type: "positional", description: "the task id (what enqueue printed)", required: false, valueHint: "ID" } as const;
const taskArg = { type: "string", description: "every call of this task instead of one id", valueHint: "NAME" } as const;

const revokeArgs = {
  file: fileArg,
  id: idArg,
  task: taskArg,
  until: { type: "string", description: "only until this time: an ISO date, epoch milliseconds or a duration from now (1h)", valueHint: "DATE" },
  once: { type: "boolean", description: "skip the next run only, then forget the revocation" },
  ...commonArgs,
} as const;

/** ID or --task NAME: exactly one. */
function target(id: string | undefined, task: string | undefined, command: string): { id: string | null; task: string | null } {
  if (id !== undefined && task !== undefined) throw new CliUsageError("give a task ID or --task NAME, not both", command);
  if (id === undefined && task === undefined) throw new CliUsageError("give a task ID or --task NAME", command);
  return { id: id ?? null, task: task ?? null };
}

export const revoke = defineCommand({
  meta: {
    name: "revoke",
    description:
      "Skip a task when it comes up (a running one has its AbortSignal fired), or every call of a task with --task.\n\n" +
      "Examples:\n" +
      "  huey revoke tasks.ts 0190a1b2-...\n" +
      "  huey revoke tasks.ts --task send_email --until 1h",
  },
  args: revokeArgs,
  async run({ args: a, rawArgs }) {
    extraPositionals(rawArgs, revokeArgs, "revoke", 1, 0);
    const t = target(a.id, a.task, "revoke");
    const until = timeFlag(a.until, "--until", { fromNow: true });
    const options = { ...(until !== undefined && { until }), once: a.once === true };
    await withHuey(a.file, a.instance, async (huey) => {
      if (t.task !== null) await taskDef(huey, t.task, a.file).revoke(options);
      else await huey.revokeById(t.id!, options);
      if (a.json) return printJson({ ...t, until: until ?? null, once: a.once === true });
      const what = t.task !== null ? `every call of task ${t.task}` : `task ${t.id}`;
      out(`revoked ${what}${until !== undefined ? ` until ${formatWhen(until)}` : ""}${a.once ? " (next run only)" : ""}`);
    }, { create: true });
  },
});

const restoreArgs = { file: fileArg, id: idArg, task: taskArg, ...commonArgs } as const;

export const restore = defineCommand({
  meta: {
    name: "restore",
    description:
      "Undo revoke: the task (or every call of the task, --task) runs again when it comes up.\n\n" +
      "Examples:\n" +
      "  huey restore tasks.ts 0190a1b2-...\n" +
      "  huey restore tasks.ts --task send_email",
  },
  args: restoreArgs,
  async run({ args: a, rawArgs }) {
    extraPositionals(rawArgs, restoreArgs, "restore", 1, 0);
    const t = target(a.id, a.task, "restore");
    await withHuey(a.file, a.instance, async (huey) => {
      const restored = t.task !== null ? await taskDef(huey, t.task, a.file).restore() : await huey.restoreById(t.id!);
      if (a.json) return printJson({ ...t, restored });
      const what = t.task !== null ? `task ${t.task}` : `task ${t.id}`;
      out(restored ? `restored ${what}` : `${what} was not revoked`);
    }, { create: true });
  },
});
