import { renderUsage, runCommand as runCitty, type CommandDef } from "citty";
import pkg from "../../package.json" with { type: "json" };
import { checkFlags } from "./args";
import { CliUsageError } from "./errors";
import { runCommand } from "./run";

const commands: Record<string, CommandDef<any>> = { run: runCommand };

const root: CommandDef<any> = {
  meta: {
    name: "huey",
    version: pkg.version,
    description: `bun-huey ${pkg.version}: background tasks on one SQLite file.\n\n  Example: huey run tasks.ts -w 4`,
  },
  subCommands: commands,
};

/** Colour only on a terminal, and never with NO_COLOR set. */
export function useColor(stream: "stdout" | "stderr"): boolean {
  return !!process[stream].isTTY && !process.env.NO_COLOR;
}

const ANSI = /\x1b\[[0-9;]*m/g;

function write(stream: "stdout" | "stderr", s: string): void {
  const text = useColor(stream) ? s : s.replace(ANSI, "");
  process[stream].write(text.endsWith("\n") ? text : `${text}\n`);
}

/** Run the CLI; returns the exit code: 0 ok, 1 error, 2 usage error. */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes("-v") || argv.includes("--verbose");
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      write("stdout", await renderUsage(root));
      return name === undefined ? 2 : 0;
    }
    if (name === "--version" || name === "-V") {
      write("stdout", pkg.version);
      return 0;
    }
    const cmd = commands[name];
    if (!cmd) throw new CliUsageError(`unknown command "${name}"; commands: ${Object.keys(commands).join(", ")}`);
    if (rest.includes("--help") || rest.includes("-h")) {
      write("stdout", await renderUsage(cmd, root));
      return 0;
    }
    checkFlags(rest, (cmd.args ?? {}) as never, name);
    await runCitty(cmd, { rawArgs: rest });
    return 0;
  } catch (err) {
    if (err instanceof CliUsageError || isCittyUsage(err)) {
      const msg = err instanceof Error ? err.message : String(err);
      const help = err instanceof CliUsageError && err.command ? `huey ${err.command} --help` : "huey --help";
      write("stderr", `huey: ${msg}\n(see ${help})`);
      return 2;
    }
    const e = err as { message?: string; stack?: string };
    write("stderr", `huey: ${verbose && e?.stack ? e.stack : (e?.message ?? String(err))}`);
    return 1;
  }
}

/** citty throws a CLIError with a code such as EARG for a missing positional. */
function isCittyUsage(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && /^E(ARG|NO_COMMAND|UNKNOWN_COMMAND|NO_VERSION)$/.test(code);
}
