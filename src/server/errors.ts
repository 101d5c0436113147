import { escapeControl } from "../_text";

// An API error: the status and the one-line message sent as {"error": "..."}. Anything else thrown
// while handling a request is a 500 with a generic message (its stack goes to the server's log only).

export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The library's errors that mean "the caller asked for something wrong" (bad option, unknown id): 400. */
const USER_ERROR_CODES = new Set([
  "HUEY_CONFIGURATION",
  "HUEY_SERIALIZATION",
  "HUEY_PAYLOAD_TOO_LARGE",
  "HUEY_DUPLICATE_ID",
  "HUEY_UNKNOWN_TASK",
]);

/** An error from the library as an ApiError when it is the caller's mistake, else null. */
export function userError(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && USER_ERROR_CODES.has(code)) {
    const status = code === "HUEY_DUPLICATE_ID" ? 409 : code === "HUEY_PAYLOAD_TOO_LARGE" ? 413 : 400;
    return new ApiError(status, (err as Error).message);
  }
  return null;
}

/** An unexpected error for the server's log: its stack, each line with control characters escaped. */
export function logDetail(what: string, err: unknown): string {
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return `dashboard: ${escapeControl(what)} failed: ${text.split("\n").map(escapeControl).join("\n")}`;
}
