import { defineCommand } from "citty";
import type { Huey } from "../../huey";
import type { AnyTaskDef } from "../../task";
import { durationFlag, intFlag, positionals, timeFlag } from "../args";
import { commonArgs, fileArg, resultError, taskDef, withHuey } from "../_context";
import { CliError, CliUsageError } from "../errors";
import { jsonText, note, out, plural, printJson } from "../_output";
import { createProgress } from "../_progress";

/** Rows per transaction with --from (~1000 per commit is where SQLite inserts get fast). */
const BATCH = 1_000;

const args = {
  file: fileArg,
  task: { type: "positional", description: "the task's registered name", required: true, valueHint: "TASK" },
  args: {
    type: "positional",
    required: false,
    description: "the task's arguments: each is parsed as JSON when it parses, else taken as a string (5 is a number, '\"5\"' a string; after -- anything goes)",
    valueHint: "ARGS...",
  },
  delay: { type: "string", description: "run after this long", valueHint: "5m" },
  eta: { type: "string", description: "run at this time: an ISO date or epoch milliseconds", valueHint: "DATE" },
  priority: { type: "string", description: "override the task's priority (higher runs first)", valueHint: "N" },
  wait: { type: "boolean", description: "wait for the result and print it; exit 1 if the task failed" },
  timeout: { type: "string", description: "with --wait: give up after this long, exit 1 (implies --wait)", valueHint: "30s" },
  from: {
    type: "string",
    description: "enqueue one call per line of a JSONL file (\"-\" for stdin), each line a JSON array of arguments, in transactions of 1000",
    valueHint: "FILE.jsonl",
  },
  ...commonArgs,
} as const;

export default defineCommand({
  meta: {
    name: "enqueue",
    description:
      "Enqueue a task and print its id (ids with --from, one per line).\n\n" +
      "Examples:\n" +
      "  huey enqueue tasks.ts add 1 2 --wait\n" +
      "  huey enqueue tasks.ts send_email a@b.c '{\"subject\":\"hi\"}' --delay 5m\n" +
      "  huey enqueue tasks.ts send_email --from calls.jsonl   # each line: [\"a@b.c\", {\"subject\": \"hi\"}]",
  },
  args,
  async run({ args: a, rawArgs }) {
    const [file, name, ...values] = positionals(rawArgs, args);
    if (file === undefined || name === undefined) throw new CliUsageError("give a tasks file and a task name", "enqueue");
    const wait = a.wait === true || a.timeout !== undefined;
    if (a.delay !== undefined && a.eta !== undefined) throw new CliUsageError("give --delay or --eta, not both", "enqueue");
    const delay = durationFlag(a.delay, "--delay");
    const eta = delay !== undefined ? Date.now() + delay : timeFlag(a.eta, "--eta");
    const priority = intFlag(a.priority, "--priority");
    const timeout = durationFlag(a.timeout, "--timeout");
    if (a.from !== undefined) {
      if (values.length > 0) throw new CliUsageError("--from reads the arguments from the file: give no ARGS", "enqueue");
      const flag = [a.delay && "--delay", a.eta && "--eta", a.priority && "--priority", wait && "--wait"].find(Boolean);
      if (flag) throw new CliUsageError(`${flag} applies to one enqueue, not to --from`, "enqueue");
    }
    await withHuey(file, a.instance, async (huey) => {
      const def = taskDef(huey, name, file);
      if (a.from !== undefined) return enqueueFrom(huey, def, a.from, a.json === true);
      const callArgs = values.map(parseArg);
      const r =
        eta !== undefined || priority !== undefined
          ? await def.schedule(callArgs, { ...(eta !== undefined && { eta }), ...(priority !== undefined && { priority }) })
          : await def(...callArgs);
      if (!wait) {
        if (a.json) printJson({ id: r.id, name, eta: eta ?? null });
        else out(r.id);
        return;
      }
      if (!a.json) note(`enqueued ${name} ${r.id}; waiting for its result`);
      let value: unknown;
      try {
        value = await r.get({ blocking: true, ...(timeout !== undefined && { timeout }) });
      } catch (err) {
        throw resultError(err);
      }
      if (a.json) printJson({ id: r.id, name, eta: eta ?? null, value: value ?? null });
      else out(jsonText(value ?? null, 2));
    }, { create: true });
  },
});

/** A command-line argument: JSON when it parses, else the string itself. */
export function parseArg(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/**
 * Stream a JSONL file, one call per line, committing every BATCH lines in one transaction. A bad
 * line stops at once: batches before it are enqueued, nothing from its batch on.
 */
async function enqueueFrom(huey: Huey, def: AnyTaskDef, source: string, json: boolean): Promise<void> {
  const stdin = source === "-";
  const f = stdin ? null : Bun.file(source);
  if (f && !(await f.exists())) throw new CliError(`--from file not found: ${source}`);
  const progress = createProgress(`enqueue ${def.taskName}`, f ? f.size : null);
  const ids: string[] = [];
  let batch: unknown[][] = [];
  let batchStart = 1; // line number of the batch's first line
  let lineNo = 0;
  let bytes = 0;
  const unique = !!def.options.unique || def.options.dedup !== null;

  const commit = async () => {
    if (batch.length === 0) return;
    let got: string[];
    try {
      if (unique) {
        // enqueueMany refuses unique tasks: one call (and transaction) each, to check each key.
        got = [];
        for (const callArgs of batch) got.push((await def(...callArgs)).id);
      } else {
        got = (await huey.enqueueMany(batch.map((callArgs) => [def, callArgs] as const))).results.map((r) => r.id);
      }
    } catch (err) {
      throw new CliError(`${source} lines ${batchStart}-${lineNo}: ${(err as Error).message}; ${summary()}`);
    }
    ids.push(...got);
    if (!json) {
      if (process.stdout.isTTY) progress.clear(); // the ids scroll past; the bar redraws below them
      out(got.join("\n"));
    }
    batch = [];
    batchStart = lineNo + 1;
  };
  const summary = () =>
    ids.length === 0
      ? "nothing was enqueued"
      : `enqueued ${plural(ids.length, "task")} from lines 1-${batchStart - 1}, nothing from line ${batchStart} on`;

  const onLine = async (raw: string) => {
    lineNo++;
    const line = raw.trim();
    if (line === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      throw new CliError(`${source} line ${lineNo}: not valid JSON (${(err as Error).message}); ${summary()}`);
    }
    if (!Array.isArray(parsed)) {
      throw new CliError(`${source} line ${lineNo}: expected a JSON array of arguments, got ${truncated(line)}; ${summary()}`);
    }
    batch.push(parsed);
    if (batch.length >= BATCH) await commit();
  };

  const stream = stdin ? Bun.stdin.stream() : f!.stream();
  const decoder = new TextDecoder();
  let rest = "";
  try {
    for await (const chunk of stream) {
      bytes += chunk.byteLength;
      const text = rest + decoder.decode(chunk, { stream: true });
      let start = 0;
      for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
        await onLine(text.slice(start, nl));
        start = nl + 1;
      }
      rest = text.slice(start);
      progress.update(bytes, ids.length + batch.length);
    }
    rest += decoder.decode();
    if (rest !== "") await onLine(rest);
    await commit();
  } finally {
    progress.finish();
  }
  if (json) printJson({ name: def.taskName, enqueued: ids.length, ids });
  else note(`enqueued ${plural(ids.length, "task")} of ${def.taskName} from ${stdin ? "stdin" : source}`);
}

function truncated(s: string): string {
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
}
