/** A usage error: bad flag, missing argument. Printed with a hint; exit code 2. */
export class CliUsageError extends Error {
  override readonly name = "CliUsageError";
  readonly code = "HUEY_CLI";
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}
