import { durationFlag } from "../args";
import { defineCommand } from "citty";
import { asUsageError, commonArgs, extraPositionals, fileArg, withHuey } from "../_context";
import { formatWhen, out, printJson } from "../_output";

const queueArg = { type: "positional", description: "the named queue (a task's queue option)", required: true, valueHint: "QUEUE" } as const;

const pauseArgs = {
  file: fileArg,
  queue: queueArg,
  for: { type: "string", description: "resume by itself after this long (default: until huey resume)", valueHint: "10m" },
  ...commonArgs,
} as const;

const resumeArgs = { file: fileArg, queue: queueArg, ...commonArgs } as const;

export const pause = defineCommand({
  meta: {
    name: "pause",
    description:
      "Stop every consumer from taking a named queue's tasks (within a second; running ones finish, queued ones stay).\n\n" +
      "Examples:\n  huey pause tasks.ts emails\n  huey pause tasks.ts emails --for 10m",
  },
  args: pauseArgs,
  async run({ args: a, rawArgs }) {
    extraPositionals(rawArgs, pauseArgs, "pause", 1, 0);
    await withHuey(a.file, a.instance, async (huey) => {
      const p = await asUsageError(() => huey.pause(a.queue, a.for !== undefined ? { for: durationFlag(a.for, "--for")! } : {}), "pause");
      if (a.json) return printJson(p);
      out(`paused queue ${p.queue}${p.until !== null ? ` until ${formatWhen(p.until)}` : " until resumed"}`);
    }, { create: true });
  },
});

export const resume = defineCommand({
  meta: { name: "resume", description: "Let consumers take a paused queue's tasks again, at once.\n\nExample:\n  huey resume tasks.ts emails" },
  args: resumeArgs,
  async run({ args: a, rawArgs }) {
    extraPositionals(rawArgs, resumeArgs, "resume", 1, 0);
    await withHuey(a.file, a.instance, async (huey) => {
      const was = await asUsageError(() => huey.resume(a.queue), "resume");
      if (a.json) return printJson({ queue: a.queue, wasPaused: was });
      out(was ? `resumed queue ${a.queue}` : `queue ${a.queue} was not paused`);
    }, { create: true });
  },
});
