// The /metrics endpoint of `huey run --metrics [ADDR]`: GET /metrics and nothing else (404). Loopback by
// default; any other address needs a token (--metrics-token / HUEY_METRICS_TOKEN), sent as
// `Authorization: Bearer TOKEN`. The address and token rules are the dashboard's (src/server/auth.ts:
// parseListen, resolveToken, bearerMatches, constant-time compare), with this command's flag names.
import { ConfigurationError } from "../errors";
import { bearerMatches, parseListen, resolveToken, ServerConfigError, type ListenAddress } from "../server/auth";
import { METRICS_CONTENT_TYPE } from "./metrics";

export const DEFAULT_METRICS_ADDR = "127.0.0.1:9464";

/** The address and token of --metrics / --metrics-token, checked by the dashboard's rules; a ConfigurationError saying what to do otherwise. */
export function metricsConfig(addr: string, token: string | undefined): { listen: ListenAddress; token: string | null } {
  try {
    const listen = parseListen(addr, "--metrics", DEFAULT_METRICS_ADDR);
    return { listen, token: resolveToken(listen, token, { flag: "--metrics-token", env: "HUEY_METRICS_TOKEN", server: "/metrics" }) };
  } catch (err) {
    if (err instanceof ServerConfigError) throw new ConfigurationError(err.message);
    throw err;
  }
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
export function startMetricsServer(addr: string, tokenGiven: string | undefined, collect: () => Promise<string>): MetricsServer {
  const { listen, token } = metricsConfig(addr, tokenGiven);
  const server = Bun.serve({
    hostname: listen.hostname,
    port: listen.port,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method !== "GET" || path !== "/metrics") return new Response("not found\n", { status: 404 });
      if (token !== null && !bearerMatches(req.headers.get("authorization"), token)) {
        return new Response("unauthorized\n", { status: 401, headers: { "www-authenticate": "Bearer" } });
      }
      try {
        return new Response(await collect(), { headers: { "content-type": METRICS_CONTENT_TYPE } });
      } catch (err) {
        return new Response(`could not collect metrics: ${err instanceof Error ? err.message : String(err)}\n`, { status: 500 });
      }
    },
  });
  const shown = listen.hostname.includes(":") ? `[${listen.hostname}]` : listen.hostname;
  return {
    url: `http://${shown}:${server.port}/metrics`,
    stop: () => void server.stop(true),
  };
}
