// What every command shares: its common flags, loading the tasks file to find its Huey (as
// `huey run` does), and asking before destroying anything.
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigurationError } from "../errors";
import { internalsOf } from "../_internals";
import { checkKnownQueue } from "../_queues";
import type { Huey } from "../huey";
import { positionals } from "./args";
import { CliError, CliUsageError } from "./errors";
import { inert } from "./_output";

export const fileArg = {
  type: "positional",
  description: "the tasks file (exports a Huey instance)",
  required: true,
  valueHint: "tasks.ts",
} as const;

export const instanceArg = {
  type: "string",
  description: "the Huey instance to use, when the file exports several (export or huey name)",
  valueHint: "NAME",
} as const;

export const jsonArg = { type: "boolean", description: "print JSON for scripts instead of a table" } as const;
export const verboseArg = { type: "boolean", alias: "v", description: "print stack traces of errors" } as const;

/** --instance, --json, -v/--verbose: every command but `run` takes these. */
export const commonArgs = { instance: instanceArg, json: jsonArg, verbose: verboseArg } as const;

/**
 * Load the tasks file (registering the "bun-huey" module first, so the file's import resolves to
 * this copy of the library), run `fn` with its Huey, and close the storage afterwards.
 * Commands that only read (the default) never create a database: a SqliteHuey whose file does not
 * exist is the error "no database at PATH"; `create: true` (enqueue, revoke) opens or creates it;
 * `noStorage: true` (tasks, which lists only what the file registers) skips the check.
 */
export async function withHuey<T>(
  file: string,
  instance: string | undefined,
  fn: (huey: Huey) => Promise<T>,
  options: { create?: boolean; noStorage?: boolean } = {},
): Promise<T> {
  const { loadTasksFile, registerModulePlugin } = await import("../consumer/loader");
  const api = await import("../index");
  registerModulePlugin(api as unknown as Record<string, unknown>);
  // The same .env files `huey run` (and bun) loads, so a producer command sees the consumer's settings.
  if (!/^(1|true|yes)$/i.test(process.env.HUEY_NO_ENV_FILE ?? "")) {
    const { loadEnvFiles } = await import("../consumer/env-files");
    loadEnvFiles(dirname(resolve(file)));
  }
  const { huey } = await loadTasksFile(file, instance ?? null);
  if (!options.create && !options.noStorage) {
    const missing = missingDatabase(huey, api.SqliteHuey);
    if (missing) {
      await huey.close().catch(() => {});
      throw new CliError(`no database at ${inert(missing)} (nothing was created; it appears when a consumer or producer first uses the queue)`, undefined, "no_database");
    }
  }
  try {
    return await fn(huey);
  } finally {
    await huey.close().catch(() => {});
  }
}

/** The absolute path of a SqliteHuey's database file when it does not exist yet, else null. */
export function missingDatabase(huey: Huey, sqliteHuey: abstract new (...a: never[]) => { filename: string }): string | null {
  if (!(huey instanceof sqliteHuey)) return null;
  const f = (huey as unknown as { filename: string }).filename;
  return f === ":memory:" || existsSync(f) ? null : f;
}

/** Positionals after FILE (and after `skip` more declared ones); more than `max` is a usage error. */
export function extraPositionals(rawArgs: string[], def: object, command: string, skip: number, max: number): string[] {
  const extra = positionals(rawArgs, def as never).slice(1 + skip);
  if (extra.length > max) {
    throw new CliUsageError(`unexpected argument "${extra[max]}"`, command);
  }
  return extra;
}

/** A ConfigurationError of `fn` (an unknown queue name: it lists the known ones) becomes a usage error. */
export async function asUsageError<T>(fn: () => Promise<T>, command: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConfigurationError) throw new CliUsageError(err.message, command);
    throw err;
  }
}

/** `--queue NAME` checked: a queue no task of the file uses is a usage error listing the known ones. */
export async function queueFlag(huey: Huey, queue: string | undefined, command: string): Promise<string | undefined> {
  if (queue !== undefined) await asUsageError(async () => checkKnownQueue(huey.queues(), queue, command), command);
  return queue;
}

/** A registered task's definition, or an error naming the tasks that are registered. */
export function taskDef(huey: Huey, name: string, file: string) {
  const reg = internalsOf(huey).registry.lookup(name);
  if (!reg) {
    const names = huey.taskNames();
    throw new CliError(
      `no task named "${name}" in ${file}; ` + (names.length ? `registered: ${names.join(", ")}` : "it registers no tasks"),
      undefined,
      "not_found",
    );
  }
  return reg.def;
}

/**
 * Ask before a destructive step. `--yes` skips the question; without a terminal to ask on,
 * `--yes` is required (a usage error, exit 2). Declining is an error (exit 1): nothing was done.
 */
export async function confirm(question: string, yes: boolean, command: string): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) {
    throw new CliUsageError(`huey ${command} removes data: confirm with --yes (stdin is not a terminal to ask on)`, command);
  }
  process.stderr.write(`${question} [y/N] `);
  const answer = await readLine();
  if (!/^\s*y(es)?\s*$/i.test(answer)) throw new CliError("aborted: nothing was changed", undefined, "aborted");
}

async function readLine(): Promise<string> {
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: process.stdin });
  try {
    return await new Promise<string>((resolve) => {
      rl.once("line", resolve);
      rl.once("close", () => resolve(""));
    });
  } finally {
    rl.close();
  }
}

/**
 * TaskFailedError and ResultTimeoutError become one-line CLI errors; the remote stack goes to -v.
 * The task's message and stack are task data: their control characters are escaped (the stack
 * keeps its line breaks).
 */
export function resultError(err: unknown): unknown {
  const e = err as { code?: string; message?: string; error?: { stack?: string } };
  if (e?.code === "HUEY_TASK_FAILED") {
    const stack = e.error?.stack?.split(/\r\n|\n/).map(inert).join("\n");
    return new CliError(inert(e.message ?? String(err)), stack, "task_failed");
  }
  if (e?.code === "HUEY_RESULT_TIMEOUT") return new CliError(e.message ?? String(err), undefined, "result_timeout");
  return err;
}
