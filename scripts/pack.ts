// `bun run pack` -> bun-huey-<version>.tgz, what `bun add ./bun-huey-<version>.tgz` installs: JavaScript built
// by Bun.build (target bun; the .sql and .lua text imports inlined, citty and croner left as dependencies) and
// .d.ts declarations from tsc, never our .ts sources (a user's tsc would check those with its own settings and
// fail on the text imports). The package's layout, in dist/lib/:
//   index.js         the library (export condition `bun`)
//   worker-entry.js  what each consumer Worker runs; the library finds it next to itself (import.meta.url)
//   cli.js           the `huey` bin, run by bun
//   node.cjs         export conditions `node` and `default`: one line saying the library runs on Bun
//   types/           declarations (export condition `types`)
//
//   bun run pack                                 the tarball in the repo root (HUEY_PACK_OUT=DIR: in DIR)
//   bun run scripts/pack.ts --build-only [DIR]   only dist/lib, in DIR (default the repo root); no tarball
//
// The tarball is packed from a temp copy (package.json, README.md, dist/lib), so packing never touches dist/
// of the checkout and two packs at once (test runs) cannot clobber each other.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import type { BunPlugin } from "bun";

const ROOT = resolve(import.meta.dir, "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
};

/** In the source tree the Worker entry sits at consumer/worker-entry.ts beside src/_worker-url.ts; in the package, beside the bundle. */
const WORKER_URL_SOURCE = `new URL("./consumer/worker-entry.ts", import.meta.url)`;
const workerUrl: BunPlugin = {
  name: "bun-huey-worker-url",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]_worker-url\.ts$/ }, ({ path }) => {
      // If _worker-url.ts changes how it finds the entry, this must change with it: fail, never guess.
      if (!readFileSync(path, "utf8").includes(WORKER_URL_SOURCE)) {
        throw new Error(`${path} no longer contains ${WORKER_URL_SOURCE}: update scripts/pack.ts to match`);
      }
      return { contents: `export const WORKER_URL = new URL("./worker-entry.js", import.meta.url).href;\n`, loader: "ts" };
    });
  },
};

/** Build the package's dist/lib into `root`/dist/lib (emptied first). */
export async function buildLib(root: string): Promise<string> {
  const lib = join(root, "dist", "lib");
  rmSync(lib, { recursive: true, force: true });
  mkdirSync(lib, { recursive: true });

  const result = await Bun.build({
    entrypoints: ["src/index.ts", "src/consumer/worker-entry.ts", "src/cli.ts"].map((f) => join(ROOT, f)),
    outdir: lib,
    target: "bun",
    format: "esm",
    // One copy of the library shared by the three entries (each thread still loads its own instance).
    // Chunks land in dist/lib itself, so import.meta.url in any of them finds ./worker-entry.js.
    splitting: true,
    naming: { entry: "[name].[ext]", chunk: "[name]-[hash].[ext]" },
    external: Object.keys(pkg.dependencies ?? {}),
    plugins: [workerUrl],
    throw: false,
  });
  if (!result.success) {
    throw new Error(`Bun.build failed:\n${result.logs.map((l) => String(l)).join("\n")}`);
  }
  for (const entry of ["index.js", "worker-entry.js", "cli.js"]) {
    if (!existsSync(join(lib, entry))) throw new Error(`Bun.build wrote no ${entry} in ${lib}`);
  }
  cpSync(join(ROOT, "src", "node-entry.cjs"), join(lib, "node.cjs"));

  await declarations(join(lib, "types"));
  return lib;
}

/** tsc --emitDeclarationOnly (tsconfig.build.json), then relative specifiers made explicit `.js` paths. */
async function declarations(outDir: string): Promise<void> {
  const tsc = join(ROOT, "node_modules", ".bin", "tsc");
  if (!existsSync(tsc)) throw new Error(`${tsc} not found: run bun install first (typescript is a devDependency)`);
  const p = Bun.spawn([tsc, "-p", join(ROOT, "tsconfig.build.json"), "--outDir", outDir], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${code}):\n${out}${err}`);
  // The Worker entry is compiled only for its globals (lib webworker, as `bun run typecheck` has them); nothing imports it.
  rmSync(join(outDir, "consumer", "worker-entry.d.ts"), { force: true });
  for (const file of walk(outDir)) {
    if (file.endsWith(".d.ts")) writeFileSync(file, explicitSpecifiers(file, readFileSync(file, "utf8")));
  }
  if (!existsSync(join(outDir, "index.d.ts"))) throw new Error(`tsc wrote no index.d.ts in ${outDir}`);
}

/**
 * `from "./huey"` becomes `from "./huey.js"` (and a folder's `./x` becomes `./x/index.js`), so the
 * declarations resolve under every moduleResolution a user may have: "bundler", and "node16"/"nodenext",
 * which need extensions. A specifier that resolves to no declaration (a .lua or .sql text import that
 * leaked into a type) fails the build.
 */
function explicitSpecifiers(file: string, text: string): string {
  return text.replace(/(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(["'])(\.\.?\/[^"']*)\2/g, (_m, lead: string, q: string, spec: string) => {
    const base = resolve(dirname(file), spec);
    let target: string;
    if (existsSync(`${base}.d.ts`)) target = `${spec}.js`;
    else if (existsSync(join(base, "index.d.ts"))) target = `${spec}/index.js`;
    else throw new Error(`${file}: "${spec}" resolves to no declaration file; declarations must not depend on it`);
    return `${lead}${q}${target}${q}`;
  });
}

function* walk(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else yield p;
  }
}

/** Build into a temp copy and pack it: returns the tarball's path. */
export async function pack(destination: string): Promise<string> {
  const stage = mkdtempSync(join(tmpdir(), "bun-huey-pack-"));
  try {
    for (const f of ["package.json", "README.md"]) cpSync(join(ROOT, f), join(stage, f));
    await buildLib(stage);
    mkdirSync(destination, { recursive: true });
    const filename = `${pkg.name}-${pkg.version}.tgz`;
    const p = Bun.spawn(["bun", "pm", "pack", "--ignore-scripts", "--quiet", "--destination", destination], {
      cwd: stage,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
    const tgz = join(destination, filename);
    if (code !== 0 || !existsSync(tgz)) throw new Error(`bun pm pack failed (exit ${code}):\n${out}${err}`);
    return tgz;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const t0 = performance.now();
  const args = process.argv.slice(2);
  try {
    if (args[0] === "--build-only") {
      const lib = await buildLib(resolve(args[1] ?? ROOT));
      console.log(`built ${relative(process.cwd(), lib) || "."} in ${Math.round(performance.now() - t0)}ms`);
    } else if (args.length === 0) {
      const tgz = await pack(resolve(process.env.HUEY_PACK_OUT ?? ROOT));
      console.log(`packed ${relative(process.cwd(), tgz)} in ${Math.round(performance.now() - t0)}ms`);
    } else {
      console.error("usage: bun run scripts/pack.ts [--build-only [DIR]]   (HUEY_PACK_OUT=DIR: where the tarball goes)");
      process.exit(2);
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
