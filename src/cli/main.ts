import { renderUsage, runCommand as runCitty, type CommandDef } from "citty";
import pkg from "../../package.json" with { type: "json" };
import { checkFlags, nearest } from "./args";
import { CliError, CliUsageError } from "./errors";
import { flushed, jsonText, raw, write } from "./_output";

export { useColor } from "./_output";

type Loader = () => Promise<CommandDef<any>>;

/**
 * The commands, each loaded only when used: `huey --help` reads the summaries here and loads no
 * command module (and so no library code).
 */
const commands: Record<string, { summary: string; load: Loader }> = {
  run: { summary: "run the consumer for a tasks file", load: async () => (await import("./commands/run")).runCommand },
  enqueue: { summary: "enqueue a task (or many, --from FILE.jsonl)", load: async () => (await import("./commands/enqueue")).default },
  tasks: { summary: "list registered tasks with their options", load: async () => (await import("./commands/tasks")).default },
  status: { summary: "counts, locks and periodic tasks (--watch)", load: async () => (await import("./commands/status")).default },
  pending: { summary: "list tasks waiting to run, and running", load: async () => (await import("./commands/pending")).pending },
  scheduled: { summary: "list tasks waiting for their time", load: async () => (await import("./commands/pending")).scheduled },
  failed: { summary: "list, retry or purge tasks that failed for good", load: async () => (await import("./commands/failed")).default },
  result: { summary: "print a task's result", load: async () => (await import("./commands/result")).default },
  revoke: { summary: "skip a task, or every call of a task", load: async () => (await import("./commands/revoke")).revoke },
  restore: { summary: "undo revoke", load: async () => (await import("./commands/revoke")).restore },
  pause: { summary: "stop consumers taking a named queue's tasks", load: async () => (await import("./commands/pause")).pause },
  resume: { summary: "undo pause", load: async () => (await import("./commands/pause")).resume },
  flush: { summary: "remove everything of the queue", load: async () => (await import("./commands/flush")).default },
  locks: { summary: "list locks, or free them (--flush)", load: async () => (await import("./commands/locks")).default },
  dashboard: { summary: "serve the web dashboard and JSON API (127.0.0.1:8080)", load: async () => (await import("./commands/dashboard")).default },
  backup: { summary: "copy a SQLite queue consistently while consumers run", load: async () => (await import("./commands/backup")).default },
};

const root: CommandDef<any> = {
  meta: {
    name: "huey",
    version: pkg.version,
    description:
      "Background tasks for Bun, in one executable (Bun is inside): priorities, retries, schedules,\n" +
      "periodic tasks, locks and a pool of Worker threads. Queues live in SQLite (the default, one\n" +
      "file, nothing to run), PostgreSQL or Redis, as the tasks file chooses. Every command takes\n" +
      "the tasks file first; --json for scripts (errors too), -v for stack traces, --version.\n" +
      "Exit codes: 0 ok, 1 error, 2 usage error.\n\n" +
      "Examples:\n" +
      "  huey run tasks.ts -w 4\n" +
      "  huey enqueue tasks.ts send_email a@b.c hello\n" +
      "  huey status tasks.ts --watch",
  },
  // Stubs with the summaries only: rendering the root usage loads no command.
  subCommands: Object.fromEntries(Object.entries(commands).map(([name, c]) => [name, { meta: { name, description: c.summary } }])),
};

/** Run the CLI; returns the exit code (0 ok, 1 error, 2 usage error) once all output is written. */
export async function main(argv: string[]): Promise<number> {
  const code = await dispatch(argv);
  // A reader that closes the pipe before the end makes _output.ts exit with this code.
  process.exitCode = code;
  await flushed();
  return code;
}

async function dispatch(argv: string[]): Promise<number> {
  const flags = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
  const verbose = flags.includes("-v") || flags.includes("--verbose");
  const json = flags.includes("--json");
  let [name, ...rest] = argv;
  try {
    if (name === "help" && rest[0] !== undefined && commands[rest[0]]) [name, rest] = [rest[0], ["--help"]];
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      write("stdout", await usage(root));
      return name === undefined ? 2 : 0;
    }
    if (name === "--version" || name === "-V") {
      write("stdout", pkg.version);
      return 0;
    }
    const entry = commands[name];
    if (!entry) {
      const near = nearest(name, Object.keys(commands));
      const hint = near === undefined ? "" : ` did you mean "${near}"?`;
      throw new CliUsageError(`unknown command "${name}";${hint} commands: ${Object.keys(commands).join(", ")}`);
    }
    const cmd = await entry.load();
    if (rest.includes("--help") || rest.includes("-h")) {
      write("stdout", await usage(cmd, root));
      return 0;
    }
    checkFlags(rest, (cmd.args ?? {}) as never, name);
    try {
      await runCitty(cmd, { rawArgs: rest });
    } catch (err) {
      if (isCittyUsage(err)) throw new CliUsageError((err as Error).message, name);
      throw err;
    }
    return 0;
  } catch (err) {
    const failure = describe(err, verbose);
    if (json) raw("stdout", `${jsonText({ error: { code: failure.code, message: failure.message, ...(err instanceof CliError && err.extra) } })}\n`);
    write("stderr", failure.text);
    return failure.exit;
  }
}

/**
 * An error as printed: the line on stderr, and for --json the stable code and the message.
 * Codes: "usage" (exit 2); a CliError's kind ("not_found", "not_finished", "revoked",
 * "task_failed", ...); "not_found" for a missing tasks file; a library error's code without its
 * prefix, lower case (HUEY_STORAGE: "storage", HUEY_LOAD: "load"); "error" for anything else.
 */
function describe(err: unknown, verbose: boolean): { exit: number; code: string; message: string; text: string } {
  if (err instanceof CliUsageError) {
    const help = err.command ? `huey ${err.command} --help` : "huey --help";
    return { exit: 2, code: "usage", message: err.message, text: `huey: ${err.message}\n(see ${help})` };
  }
  if (err instanceof CliError) {
    return { exit: 1, code: err.kind, message: err.message, text: `huey: ${err.message}${verbose && err.detail ? `\n${err.detail}` : ""}` };
  }
  const e = err as { message?: unknown; stack?: unknown; code?: unknown };
  const message = typeof e?.message === "string" ? e.message : String(err);
  let code = typeof e?.code === "string" && /^HUEY_[A-Z_]+$/.test(e.code) ? e.code.slice(5).toLowerCase() : "error";
  if (code === "load" && message.startsWith("tasks file not found")) code = "not_found";
  const text = verbose && typeof e?.stack === "string" ? e.stack : message;
  return { exit: 1, code, message, text: `huey: ${text}` };
}

/**
 * citty's usage, with the description's "Examples:" block moved to the end as an EXAMPLES
 * section (citty appends "(huey x v0.1.0)" to the description) and no trailing spaces.
 */
async function usage(cmd: CommandDef<any>, parent?: CommandDef<any>): Promise<string> {
  const meta = (typeof cmd.meta === "function" ? await cmd.meta() : await cmd.meta) ?? {};
  const [summary, examples] = (meta.description ?? "").split(/\n\nExamples:\n/);
  const text = await renderUsage({ ...cmd, meta: { ...meta, description: summary } }, parent);
  const section = examples ? `\n\n\x1b[4m\x1b[1mEXAMPLES\x1b[22m\x1b[24m\n\n${examples}` : "";
  return `${text.trimEnd()}${section}`.replace(/[ \t]+$/gm, "");
}

/** citty throws a CLIError with a code such as EARG for a missing positional. */
function isCittyUsage(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && /^E(ARG|NO_COMMAND|UNKNOWN_COMMAND|NO_VERSION)$/.test(code);
}
