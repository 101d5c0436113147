// The /metrics endpoint of `huey run --metrics [ADDR]`: GET /metrics and nothing else (404). Loopback by
// default; any other address needs a token (--metrics-token / HUEY_METRICS_TOKEN), sent as
// `Authorization: Bearer TOKEN` and compared in constant time.
import { createHash, timingSafeEqual } from "node:crypto";
import { ConfigurationError } from "../errors";
import { METRICS_CONTENT_TYPE } from "./metrics";

export const DEFAULT_METRICS_ADDR = "127.0.0.1:9464";

/** "HOST:PORT" or "[IPv6]:PORT" -> parts; a clear error otherwise. Port 0 picks a free one. */
export function parseAddr(addr: string, what = "--metrics"): { host: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(addr) ?? /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new ConfigurationError(`${what} must be HOST:PORT such as ${DEFAULT_METRICS_ADDR} (or [::1]:9464), got ${JSON.stringify(addr)}`);
  }
  return { host: m[1]!, port };
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/** Whether `header` (an Authorization value) carries `token`, compared in constant time. */
export function tokenMatches(header: string | null, token: string): boolean {
  const given = header?.startsWith("Bearer ") ? header.slice(7) : "";
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}

export interface MetricsServer {
  /** "http://HOST:PORT/metrics" as bound (the real port when 0 was asked). */
  readonly url: string;
  stop(): void;
}

/**
 * Serve `collect()` at GET /metrics on `addr`. A host other than loopback without a token is refused
 * at startup (a ConfigurationError saying what to do).
 */
export function startMetricsServer(addr: string, token: string | undefined, collect: () => Promise<string>): MetricsServer {
  const { host, port } = parseAddr(addr);
  if (token !== undefined && token.length < 16) {
    throw new ConfigurationError("--metrics-token / HUEY_METRICS_TOKEN must be at least 16 characters (e.g. openssl rand -hex 16)");
  }
  if (!isLoopback(host) && token === undefined) {
    throw new ConfigurationError(
      `--metrics ${addr} is not a loopback address: set a token with --metrics-token or HUEY_METRICS_TOKEN (scrapers send "Authorization: Bearer TOKEN"), or serve on 127.0.0.1`,
    );
  }
  const server = Bun.serve({
    hostname: host,
    port,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method !== "GET" || path !== "/metrics") return new Response("not found\n", { status: 404 });
      if (token !== undefined && !tokenMatches(req.headers.get("authorization"), token)) {
        return new Response("unauthorized\n", { status: 401, headers: { "www-authenticate": "Bearer" } });
      }
      try {
        return new Response(await collect(), { headers: { "content-type": METRICS_CONTENT_TYPE } });
      } catch (err) {
        return new Response(`could not collect metrics: ${err instanceof Error ? err.message : String(err)}\n`, { status: 500 });
      }
    },
  });
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${server.port}/metrics`,
    stop: () => void server.stop(true),
  };
}
