// Named queues (the task option `queue`): the one check that a name given by a caller is one a task uses.
import { ConfigurationError } from "./errors";

/** Throws ConfigurationError listing `known` when no task uses `queue`; `what` names the caller. */
export function checkKnownQueue(known: readonly string[], queue: string, what: string): void {
  if (!known.includes(queue)) {
    throw new ConfigurationError(`${what}: no task uses the queue ${JSON.stringify(queue)}; known queues: ${known.join(", ") || "(none)"}`);
  }
}
