/** A usage error: bad flag, missing argument. Printed with a hint; exit code 2. */
export class CliUsageError extends Error {
  override readonly name = "CliUsageError";
  readonly code = "HUEY_CLI";
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

/**
 * A command failed (unknown task, task failed, result not finished): one line on stderr, exit
 * code 1. `detail` (a remote stack, for instance) is printed only with -v/--verbose. `kind` is the
 * stable code `--json` prints in `{"error":{"code"}}` (README, "Errors with --json").
 */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly code = "HUEY_CLI_ERROR";
  /** `extra`: more fields of the `--json` error object (`huey result`: the task's `state`). */
  constructor(message: string, readonly detail?: string, readonly kind: string = "error", readonly extra?: Record<string, unknown>) {
    super(message);
  }
}
