// .env files beside the tasks file, loaded as `bun` loads them, so a consumer run from the binary and a
// producer run with `bun` see the same variables. Variables already set in the environment win.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The files bun reads, weakest first: `.env`, `.env.<NODE_ENV>` (NODE_ENV defaults to development), then
 * `.env.local` (not when NODE_ENV is test). A later file wins over an earlier one.
 */
export function envFileNames(nodeEnv: string | undefined = process.env.NODE_ENV): string[] {
  const mode = nodeEnv || "development";
  return [".env", `.env.${mode}`, ...(mode === "test" ? [] : [".env.local"])];
}

/** Load the .env files of `dir` into `env` without replacing what is set. Returns the files read. */
export function loadEnvFiles(dir: string, env: Record<string, string | undefined> = process.env): string[] {
  const merged: Record<string, string> = {};
  const read: string[] = [];
  for (const name of envFileNames(env.NODE_ENV)) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    Object.assign(merged, parseEnv(readFileSync(path, "utf8"), { ...merged, ...env }));
    read.push(path);
  }
  for (const [k, v] of Object.entries(merged)) if (env[k] === undefined) env[k] = v;
  return read;
}

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)?$/;

/** KEY=value lines: `#` comments, single quotes (literal), double quotes (\n escapes, $VAR), `export KEY=`. */
export function parseEnv(text: string, known: Record<string, string | undefined> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const lookup = (k: string) => out[k] ?? known[k] ?? "";
  const expand = (s: string) => s.replace(/\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, a, b) => (m === "\\$" ? "$" : lookup(a ?? b)));
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = LINE.exec(lines[i]!);
    if (!m) continue;
    let raw = (m[2] ?? "").trim();
    const q = raw[0];
    if (q === '"' || q === "'" || q === "`") {
      // A quoted value may run over several lines, up to its closing quote.
      while (raw.length < 2 || !closes(raw, q)) {
        if (i + 1 >= lines.length) break;
        raw += "\n" + lines[++i];
      }
      const end = raw.lastIndexOf(q);
      const body = end > 0 ? raw.slice(1, end) : raw.slice(1);
      out[m[1]!] = q === "'" ? body : expand(q === '"' ? body.replace(/\\n/g, "\n").replace(/\\"/g, '"') : body);
    } else {
      out[m[1]!] = expand(raw.replace(/\s+#.*$/, "").trim());
    }
  }
  return out;
}

function closes(raw: string, q: string): boolean {
  const rest = raw.slice(1);
  const at = rest.indexOf(q);
  return at >= 0 && rest.slice(at + 1).replace(/\s+#.*$/, "").trim() === "";
}
