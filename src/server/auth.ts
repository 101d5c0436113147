// Who may use the dashboard's HTTP server, and from where: the listen address (loopback unless a token is
// set), the token (a Bearer header, or a session cookie the login sets), the Host header (no DNS rebinding
// onto a token-less loopback server) and cross-site requests (actions need a custom header and a
// same-origin Origin/Sec-Fetch-Site). Tokens and cookies are compared in constant time.
// The address and token rules (parseListen, resolveToken, bearerMatches) are also those of
// `huey run --metrics` (src/observe/metrics-server.ts): one implementation for both servers.
import { createHash, timingSafeEqual } from "node:crypto";

/** The session cookie set by the login (HttpOnly, SameSite=Strict, Path=/). */
export const SESSION_COOKIE = "huey_session";
/** The header every POST must carry: a cross-site form or fetch cannot send it without a CORS preflight we never grant. */
export const ACTION_HEADER = "x-huey-request";
/** The shortest token accepted: long enough not to be guessed through the network. */
export const MIN_TOKEN_LENGTH = 16;

export interface ListenAddress {
  hostname: string;
  port: number;
  /** True for 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
  loopback: boolean;
}

/** A bad --listen / --dashboard / --metrics / --token value: the CLI turns it into a usage error. */
export class ServerConfigError extends Error {
  override name = "ServerConfigError";
}

/**
 * Parse `HOST:PORT`, `PORT` or `:PORT` (host 127.0.0.1), `[v6]:PORT`. Port 0 picks a free port.
 */
export function parseListen(spec: string, what = "--listen", example = "127.0.0.1:8080"): ListenAddress {
  const s = spec.trim();
  let host = "127.0.0.1";
  let port: string;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s);
  if (v6) [host, port] = [v6[1]!, v6[2]!];
  else if (/^:?\d+$/.test(s)) port = s.replace(/^:/, "");
  else {
    const i = s.lastIndexOf(":");
    if (i <= 0 || s.indexOf(":") !== i) throw new ServerConfigError(`${what} must be HOST:PORT, PORT or [IPv6]:PORT (e.g. ${example}), got ${JSON.stringify(spec)}`);
    host = s.slice(0, i);
    port = s.slice(i + 1);
    if (!/^[A-Za-z0-9.-]+$/.test(host)) throw new ServerConfigError(`${what}: ${JSON.stringify(host)} is not a host name or IP address`);
  }
  const n = /^\d+$/.test(port) ? Number(port) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ServerConfigError(`${what}: the port must be a number from 0 to 65535, got ${JSON.stringify(port)}`);
  return { hostname: host, port: n, loopback: isLoopback(host) };
}

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** The names a token error speaks of: the flag, the environment variable, and the server. */
export interface TokenNames {
  /** @default "--token" */
  flag?: string;
  /** @default "HUEY_DASHBOARD_TOKEN" */
  env?: string;
  /** @default "the dashboard" */
  server?: string;
}

/**
 * The token to require, checked against the address: none is fine on loopback, anything else
 * needs one of at least MIN_TOKEN_LENGTH characters (or the server would hand the queue to the network).
 * `names` (or just the flag) says which flag and variable the errors name.
 */
export function resolveToken(listen: ListenAddress, token: string | undefined, names: TokenNames | string = {}): string | null {
  const n = typeof names === "string" ? { flag: names } : names;
  const flag = n.flag ?? "--token";
  const env = n.env ?? "HUEY_DASHBOARD_TOKEN";
  const server = n.server ?? "the dashboard";
  const t = token === undefined || token === "" ? null : token;
  if (t !== null && t.length < MIN_TOKEN_LENGTH) {
    throw new ServerConfigError(`${flag === env ? flag : `${flag} (or ${env})`} must be at least ${MIN_TOKEN_LENGTH} characters (try: openssl rand -hex 24)`);
  }
  if (t !== null && /[\s\x00-\x1f\x7f]/.test(t)) throw new ServerConfigError(`${flag} must not contain spaces or control characters`);
  if (t === null && !listen.loopback) {
    throw new ServerConfigError(
      `${server} would listen on ${listen.hostname}, which is not a loopback address: set a token with ${flag} or ${env}, or listen on 127.0.0.1`,
    );
  }
  return t;
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/** Constant-time equality of two strings (their SHA-256 digests are compared, so the length leaks nothing either). */
export function safeEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The session cookie's value for a token: derived from it, so the cookie is not the token itself. */
export function sessionValue(token: string): string {
  return createHash("sha256").update("bun-huey dashboard session\0", "utf8").update(token, "utf8").digest("hex");
}

export function sessionCookie(token: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${sessionValue(token)}; HttpOnly; SameSite=Strict; Path=/${secure ? "; Secure" : ""}`;
}

export function cookieValue(req: Request, name: string): string | null {
  const header = req.headers.get("cookie");
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** Whether an Authorization header value is `Bearer <token>`, compared in constant time. */
export function bearerMatches(header: string | null, token: string): boolean {
  const given = /^Bearer (.+)$/i.exec(header ?? "")?.[1];
  const same = safeEqual(given ?? "", token);
  return same && given !== undefined;
}

/** True when the request carries the token (Bearer header) or the session cookie. Both are checked, each in constant time. */
export function authorized(req: Request, token: string | null): boolean {
  if (token === null) return true;
  const cookie = cookieValue(req, SESSION_COOKIE) ?? "";
  const byHeader = bearerMatches(req.headers.get("authorization"), token);
  const byCookie = safeEqual(cookie, sessionValue(token));
  return byHeader || byCookie;
}

/**
 * Without a token the server trusts being on loopback, so the Host header must name loopback too:
 * else a page on evil.example whose name resolves to 127.0.0.1 (DNS rebinding) could read the API.
 */
export function hostAllowed(req: Request, token: string | null): boolean {
  if (token !== null) return true;
  const host = req.headers.get("host");
  if (!host) return false;
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "");
  return isLoopback(name);
}

/**
 * Why a state-changing request is refused as cross-site, or null when it may go on: it must carry
 * the action header, and a browser's Origin and Sec-Fetch-Site (when sent) must say same-origin.
 */
export function crossSiteRefusal(req: Request): string | null {
  const site = req.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  const origin = req.headers.get("origin");
  if (origin !== null) {
    const host = req.headers.get("host");
    let ok = false;
    try {
      ok = host !== null && new URL(origin).host === host;
    } catch {
      ok = false;
    }
    if (!ok) return "cross-site request refused (Origin does not match this server)";
  }
  return null;
}

/** crossSiteRefusal, plus the action header that only same-origin scripts (and non-browser clients) can send. */
export function actionRefusal(req: Request): string | null {
  if (req.headers.get(ACTION_HEADER) === null) return `POST requests must carry the header "X-Huey-Request: 1" (it keeps other sites from posting here)`;
  return crossSiteRefusal(req);
}
