import { defineCommand } from "citty";
import { durationFlag } from "../args";
import { commonArgs, extraPositionals, fileArg, resultError, withHuey } from "../_context";
import { CliError } from "../errors";
import { jsonText, out, printJson } from "../_output";
import { describeState, formatTaskLog, stateKind } from "../_task-state";
import type { TaskLog } from "../../task-log";

const args = {
  file: fileArg,
  id: { type: "positional", description: "the task id (what enqueue printed)", required: true, valueHint: "ID" },
  wait: { type: "boolean", description: "wait until the task has finished" },
  timeout: { type: "string", description: "with --wait: give up after this long, exit 1 (implies --wait)", valueHint: "30s" },
  log: { type: "boolean", description: "also print the task's timeline and the lines it wrote with ctx.log() (--json: a \"log\" field)" },
  ...commonArgs,
} as const;

export default defineCommand({
  meta: {
    name: "result",
    description:
      "Print a task's result as JSON. Exit 1 if the task failed (with its error) or has not finished: then it says\n" +
      "where the task is (queued, scheduled with its eta, running with its attempt, since when and on which consumer,\n" +
      "failed, revoked, expired, or unknown); with --json the error object has a \"state\" field.\n\n" +
      "Examples:\n" +
      "  huey result tasks.ts 0190a1b2-...\n" +
      "  huey result tasks.ts 0190a1b2-... --log\n" +
      "  huey result tasks.ts 0190a1b2-... --wait --timeout 30s",
  },
  args,
  async run({ args: a, rawArgs }) {
    extraPositionals(rawArgs, args, "result", 1, 0);
    const timeout = durationFlag(a.timeout, "--timeout");
    const wait = a.wait === true || timeout !== undefined;
    await withHuey(a.file, a.instance, async (huey) => {
      const r = huey.result(a.id);
      let value: unknown;
      const log: TaskLog | null = a.log ? await huey.taskLog(a.id) : null;
      try {
        value = await r.get(wait ? { blocking: true, ...(timeout !== undefined && { timeout }) } : {});
      } catch (err) {
        const e = resultError(err);
        if (log && e instanceof CliError) {
          // The log is read again: a --wait that ended in a failure has more of it now.
          const now = await huey.taskLog(a.id);
          if (a.json) throw new CliError(e.message, e.detail, e.kind, { log: now });
          out(formatTaskLog(now));
        }
        throw e;
      }
      // get() gives undefined both for "not finished" and for a stored undefined.
      if (value === undefined && !(await r.ready())) {
        const state = await huey.state(a.id);
        if (log && !a.json) out(formatTaskLog(log));
        throw new CliError(describeState(state), undefined, stateKind(state), { state, ...(log && { log }) });
      }
      const finalLog = log && (await huey.taskLog(a.id));
      if (a.json) printJson({ id: a.id, value: value ?? null, ...(finalLog && { log: finalLog }) });
      else {
        out(jsonText(value ?? null, 2));
        if (finalLog) out(formatTaskLog(finalLog));
      }
    });
  },
});
