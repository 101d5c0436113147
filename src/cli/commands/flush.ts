import { defineCommand } from "citty";
import { commonArgs, confirm, extraPositionals, fileArg, withHuey } from "../_context";
import { out, printJson } from "../_output";
import { createProgress } from "../_progress";
import { snapshot } from "./status";

const args = {
  file: fileArg,
  yes: { type: "boolean", alias: "y", description: "do not ask (required when stdin is not a terminal)" },
  ...commonArgs,
} as const;

export default defineCommand({
  meta: {
    name: "flush",
    description:
      "Remove everything of the queue: queued, running and scheduled tasks, results, dead letters, locks, revocations and stored keys. Asks first.\n\n" +
      "Examples:\n  huey flush tasks.ts --yes",
  },
  args,
  async run({ args: a, rawArgs }) {
    extraPositionals(rawArgs, args, "flush", 0, 0);
    await withHuey(a.file, a.instance, async (huey) => {
      const s = await snapshot(huey);
      const counts = `${s.queued} queued, ${s.running} running, ${s.scheduled} scheduled, ${s.results} results, ${s.failed} failed, ${s.locks.length} locks`;
      await confirm(`Remove everything of queue "${huey.name}" (${counts})? This cannot be undone.`, a.yes === true, "flush");
      // One transaction, so no fraction to show: the bar says it is working (on a terminal only).
      const progress = createProgress(`flush "${huey.name}"`, null);
      progress.update(0);
      await huey.flush();
      progress.finish();
      if (a.json) {
        return printJson({ queue: s.queue, queued: s.queued, running: s.running, scheduled: s.scheduled, results: s.results, failed: s.failed, locks: s.locks.length });
      }
      out(`flushed queue "${huey.name}": removed ${counts}`);
    });
  },
});
