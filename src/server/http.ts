// The dashboard's HTTP server (Bun.serve): the page, its script and style (embedded in the binary), the
// login, and the JSON API. Every route but the login form needs the token when one is set; every POST is
// refused when cross-site (auth.ts). Security headers keep the page from running anything but its own
// script, and from being framed.
import { createApi, json, type HueySource } from "./api";
import {
  actionRefusal,
  authorized,
  crossSiteRefusal,
  hostAllowed,
  parseListen,
  resolveToken,
  safeEqual,
  sessionCookie,
  type ListenAddress,
} from "./auth";
import { logDetail } from "./errors";
import { MAX_BODY } from "./params";
import page from "./dashboard/page.html" with { type: "text" };
import login from "./dashboard/login.html" with { type: "text" };
import css from "./dashboard/app.css" with { type: "text" };
import helpers from "./dashboard/dom.js" with { type: "text" };
import overviewScript from "./dashboard/overview.js" with { type: "text" };
import listsScript from "./dashboard/lists.js" with { type: "text" };
import detailScript from "./dashboard/detail.js" with { type: "text" };
import script from "./dashboard/app.js" with { type: "text" };

export interface DashboardOptions {
  /** HOST:PORT, PORT or [v6]:PORT. @default "127.0.0.1:8080" */
  listen?: string;
  /** Required unless the host is loopback. */
  token?: string | undefined;
  /** Where server-side errors go (the consumer's logger, or stderr). */
  log?: (line: string) => void;
  /** The flag named in errors about the token. @default "--token" */
  tokenFlag?: string;
  /** The flag named in errors about the address. @default "--listen" */
  listenFlag?: string;
  /** How long one overview answers every page that asks (ms). @default 500 */
  overviewTtl?: number;
}

export interface Dashboard {
  /** The address it listens on (the port chosen when 0 was asked). */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

function withHeaders(res: Response): Response {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) if (!res.headers.has(k) || k === "cache-control") res.headers.set(k, v);
  return res;
}

function asset(body: string, type: string, status = 200, extra: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": `${type}; charset=utf-8`, ...extra } });
}

const PAGE = String(page);
/** The page's scripts, in the order page.html loads them (one global scope; app.js last starts the page). */
const SCRIPTS: Record<string, string> = {
  "/dom.js": String(helpers),
  "/overview.js": String(overviewScript),
  "/lists.js": String(listsScript),
  "/detail.js": String(detailScript),
  "/app.js": String(script),
};
const LOGIN = String(login);

function loginPage(status: number, message: string): Response {
  // The message is one of ours (no request data), but escape it anyway.
  const safe = message.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return asset(LOGIN.replace("{{message}}", safe), "text/html", status);
}

/** Start the dashboard for the Huey `source()` returns. Throws ServerConfigError for a bad address or token. */
export function startDashboard(source: HueySource, options: DashboardOptions = {}): Dashboard {
  const listen: ListenAddress = parseListen(options.listen ?? "127.0.0.1:8080", options.listenFlag ?? "--listen");
  const token = resolveToken(listen, options.token, options.tokenFlag ?? "--token");
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const api = createApi(source, log, options.overviewTtl);

  const handle = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (!hostAllowed(req, token)) return json(403, { error: "this server answers only to a loopback Host (127.0.0.1, localhost, [::1]); set a token to serve other names" });
    const secure = url.protocol === "https:";

    if (url.pathname === "/login") {
      if (token === null) return Response.redirect("/", 303);
      if (req.method === "GET") return loginPage(200, "");
      if (req.method !== "POST") return json(405, { error: "use GET or POST /login" });
      if (crossSiteRefusal(req)) return json(403, { error: crossSiteRefusal(req) });
      const form = await req.formData().catch(() => null);
      const given = form?.get("token");
      if (typeof given !== "string" || !safeEqual(given, token)) return loginPage(401, "wrong token");
      return new Response(null, { status: 303, headers: { location: "/", "set-cookie": sessionCookie(token, secure) } });
    }

    // The page opened as /?token=T: check it, set the session cookie and drop the token from the address bar.
    const inUrl = url.searchParams.get("token");
    if (inUrl !== null && token !== null && req.method === "GET" && !url.pathname.startsWith("/api/")) {
      if (!safeEqual(inUrl, token)) return url.pathname === "/" ? loginPage(401, "wrong token") : json(401, { error: "wrong token" });
      url.searchParams.delete("token");
      return new Response(null, { status: 303, headers: { location: url.pathname + url.search, "set-cookie": sessionCookie(token, secure) } });
    }

    // The style sheet holds no data; the login page needs it before there is a session.
    if (url.pathname === "/app.css" && req.method === "GET") return asset(String(css), "text/css");
    if (!authorized(req, token)) {
      if (url.pathname === "/" && req.method === "GET") return loginPage(401, req.headers.get("authorization") || req.headers.get("cookie") ? "wrong token" : "");
      return json(401, { error: "missing or wrong token: send \"Authorization: Bearer <token>\" (or log in on the page)" });
    }

    if (req.method === "POST") {
      const refusal = actionRefusal(req);
      if (refusal) return json(403, { error: refusal });
    }
    if (url.pathname.startsWith("/api/")) return api.handle(req, url);
    if (req.method !== "GET" && req.method !== "HEAD") return json(405, { error: "the page is GET only; actions are POST /api/..." });
    if (Object.hasOwn(SCRIPTS, url.pathname)) return asset(SCRIPTS[url.pathname]!, "text/javascript");
    switch (url.pathname) {
      case "/":
        return asset(PAGE, "text/html");
      case "/app.css":
        return asset(String(css), "text/css");
      case "/favicon.ico":
        return new Response(null, { status: 204 });
      default:
        return json(404, { error: `no page ${url.pathname}` });
    }
  };

  let server: ReturnType<typeof Bun.serve>;
  try {
    server = serve();
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    const why = code === "EADDRINUSE" ? "the address is in use (another server, or pick another port)" : err instanceof Error ? err.message : String(err);
    throw new Error(`the dashboard could not listen on ${listen.hostname}:${listen.port}: ${why}`);
  }
  function serve() {
    return Bun.serve({
    hostname: listen.hostname,
    port: listen.port,
    maxRequestBodySize: MAX_BODY + 1024,
    async fetch(req) {
      try {
        return withHeaders(await handle(req));
      } catch (err) {
        log(logDetail(`${req.method} ${new URL(req.url).pathname}`, err));
        return withHeaders(json(500, { error: "internal error; the server's log has the details" }));
      }
    },
    error(err) {
      log(logDetail("a request", err));
      return withHeaders(json(500, { error: "internal error; the server's log has the details" }));
    },
  });
  }
  const host = listen.hostname.includes(":") ? `[${listen.hostname}]` : listen.hostname;
  const port = server.port ?? listen.port;
  return {
    url: `http://${host}:${port}/`,
    port,
    async stop() {
      await server.stop(true);
      api.close();
    },
  };
}
