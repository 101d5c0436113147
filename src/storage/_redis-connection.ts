import { RedisClient } from "bun";
import { DuplicateIdError, StorageError } from "../errors";

/**
 * Bound on opening a connection. Bun's client retries a refused connect with backoff and, with
 * its default 20 retries, left `connect()` pending for over 15 s (bun 1.4.5): we cap it ourselves.
 */
const CONNECT_TIMEOUT_MS = 3_000;
/**
 * Reconnect attempts after a dropped connection (Bun waits 50 ms, doubling, capped at 2 s).
 * Three fail a refused port in ~150-350 ms. After Bun gives up, its client answers only
 * "Connection has failed", so the next call here opens a new one.
 */
const MAX_RETRIES = 3;

/** The command connection: opened on first use, and opened anew after Bun's client gives up. */
export class Connection {
  #ready: Promise<RedisClient> | null = null;
  #client: RedisClient | null = null;
  #closed = false;

  constructor(
    readonly rawUrl: string,
    readonly shownUrl: string,
  ) {}

  client(what: string): Promise<RedisClient> {
    if (this.#closed) return Promise.reject(new StorageError(`${what}: the Redis storage for ${this.shownUrl} is closed`));
    this.#ready ??= this.#open(what).catch((err) => {
      this.#ready = null;
      throw err;
    });
    return this.#ready;
  }

  close(): void {
    this.#closed = true;
    this.#client?.close();
    this.#client = null;
  }

  /**
   * Forget a client whose connection failed, so the next call opens a new one. We do not wait
   * for Bun's own retries: once it gives up, its client only answers "Connection has failed".
   */
  discard(client: RedisClient): void {
    if (this.#client !== client) return;
    this.#client = null;
    this.#ready = null;
    client.close();
  }

  async #open(what: string): Promise<RedisClient> {
    const client = await openClient(this.rawUrl, this.shownUrl, true, what);
    if (this.#closed) {
      client.close();
      throw new StorageError(`the Redis storage for ${this.shownUrl} is closed`);
    }
    // Runs when Bun has given up reconnecting (or on close): the next call opens a new client.
    client.onclose = () => this.discard(client);
    this.#client = client;
    return client;
  }
}

/** A connected client, or a StorageError that names the URL and says what to check. */
export async function openClient(url: string, shown: string, autoReconnect: boolean, what: string): Promise<RedisClient> {
  checkUrl(url, shown, what);
  let client: RedisClient;
  try {
    client = new RedisClient(url, {
      connectionTimeout: CONNECT_TIMEOUT_MS,
      maxRetries: MAX_RETRIES,
      autoReconnect,
      enableOfflineQueue: true,
    });
  } catch (err) {
    throw new StorageError(`${what}: cannot use the Redis URL ${shown}: ${errorMessage(err)}`, { cause: err });
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS}ms`)), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([client.connect(), timeout]);
    return client;
  } catch (err) {
    client.close();
    throw new StorageError(
      `${what}: cannot connect to Redis at ${shown} (${errorMessage(err)}); check that Redis is running there ` +
        `and that the url option is right`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}

const URL_SCHEME = /^(redis|valkey)(s|\+tls)?(\+unix)?:$/;

function checkUrl(url: string, shown: string, what: string): void {
  let scheme = "";
  try {
    scheme = new URL(url).protocol;
  } catch {
    // not a URL at all: reported below
  }
  if (!URL_SCHEME.test(scheme)) {
    throw new StorageError(
      `${what}: "${shown}" is not a Redis URL; use redis://host:6379 (rediss:// for TLS, redis+unix:///path/to/redis.sock for a socket)`,
    );
  }
}

/** The URL as given, with its password (if any) replaced by "***": fit for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([^:/?#]+:\/\/[^:@/]*):[^@/]*@/, "$1:***@");
}

export function describeRedisError(err: unknown, shown: string, what: string): StorageError | DuplicateIdError {
  if (err instanceof StorageError || err instanceof DuplicateIdError) return err;
  const message = errorMessage(err);
  const dup = /HUEY_DUPLICATE (.*)$/.exec(message);
  if (dup) return new DuplicateIdError(`${what}: a task with id ${dup[1]} is already queued or scheduled`, { cause: err });
  const code = String((err as { code?: unknown } | null)?.code ?? "");
  if (code.startsWith("ERR_REDIS_CONNECTION") || /connection/i.test(message)) {
    return new StorageError(
      `${what}: lost the connection to Redis at ${shown} (${message}); the call may or may not have been applied. ` +
        `Check that Redis is running; the next call reconnects`,
      { cause: err },
    );
  }
  return new StorageError(`${what} failed on Redis at ${shown}: ${message}`, { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
