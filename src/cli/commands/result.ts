import { defineCommand } from "citty";
import { durationFlag } from "../args";
import { commonArgs, extraPositionals, fileArg, resultError, withHuey } from "../_context";
import { CliError } from "../errors";
import { jsonText, out, printJson } from "../_output";
import { KEYS } from "../../message";
import type { RevokedMarker } from "../../plan";

const args = {
  file: fileArg,
  id: { type: "positional", description: "the task id (what enqueue printed)", required: true, valueHint: "ID" },
  wait: { type: "boolean", description: "wait until the task has finished" },
  timeout: { type: "string", description: "with --wait: give up after this long, exit 1 (implies --wait)", valueHint: "30s" },
  ...commonArgs,
} as const;

export default defineCommand({
  meta: {
    name: "result",
    description:
      "Print a task's result as JSON. Exit 1 if the task failed (with its error) or has not finished.\n\n" +
      "Examples:\n" +
      "  huey result tasks.ts 0190a1b2-...\n" +
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
      try {
        value = await r.get(wait ? { blocking: true, ...(timeout !== undefined && { timeout }) } : {});
      } catch (err) {
        throw resultError(err);
      }
      // get() gives undefined both for "not finished" and for a stored undefined.
      if (value === undefined && !(await r.ready())) {
        // A revocation by id is kept until a consumer skips the task, which consumes it.
        if (await huey.isRevokedId(a.id)) {
          throw new CliError(`task ${a.id} was revoked: it will be skipped, not run (huey restore to undo)`, undefined, "revoked");
        }
        // A consumer that skipped it as revoked left a marker (kept as long as a result would be).
        const raw = await huey.storage.getData(KEYS.revokedDone + a.id, true);
        const marker = raw === null ? null : (JSON.parse(raw) as RevokedMarker);
        if (marker && (marker.until === null || marker.until > Date.now())) {
          throw new CliError(`task ${a.id} was revoked: a consumer skipped it, so it has no result`, undefined, "revoked");
        }
        if (!(await huey.storage.hasTask(a.id))) {
          throw new CliError(
            `no task with id ${a.id} is queued, scheduled or running, and no result is stored for it (check the id; results are not kept for tasks with results: false, or once read with preserve: false or expired)`,
            undefined,
            "not_found",
          );
        }
        throw new CliError(`task ${a.id} has not finished (no result stored yet; --wait to wait for it)`, undefined, "not_finished");
      }
      if (a.json) printJson({ id: a.id, value: value ?? null });
      else out(jsonText(value ?? null, 2));
    });
  },
});
