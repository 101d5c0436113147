import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { LoadError } from "../errors";
import { Huey } from "../huey";

let registered = false;

/**
 * Make `import ... from "bun-huey"` in the user's tasks file resolve to this copy of the library.
 * Plugins are per thread, and a failed import is cached: call this first, in every thread.
 */
export function registerModulePlugin(api: Record<string, unknown>): void {
  if (registered) return;
  registered = true;
  Bun.plugin({
    name: "bun-huey",
    setup(build) {
      build.module("bun-huey", () => ({ exports: api, loader: "object" }));
    },
  });
}

/** Import the user's tasks file and pick its Huey instance. Errors say what to fix. */
export async function loadTasksFile(file: string, instance: string | null, generation = 0): Promise<{ huey: Huey; path: string }> {
  const path = resolve(file);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new LoadError(`tasks file not found: ${file} (looked for ${path})`);
  }
  let mod: Record<string, unknown>;
  try {
    // A later generation (SIGHUP) imports the file anew; its own imports stay as first loaded.
    const url = pathToFileURL(path).href;
    // Bun 1.4.5 keys a loaded module by its path and ignores the query: without this delete a reload got
    // the module loaded first, so a file that no longer loads "loaded", and the consumer stopped for new
    // Workers that then failed on it. Deleting the entry makes import() read and run the file again.
    if (generation > 0) delete require.cache[path];
    mod = await import(generation === 0 ? url : `${url}?reload=${generation}`);
  } catch (err) {
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new LoadError(`tasks file ${file} failed to load: ${detail}`, { cause: err });
  }
  return { huey: pickInstance(mod, file, instance), path };
}

export function pickInstance(mod: Record<string, unknown>, file: string, instance: string | null): Huey {
  const found = new Map<string, Huey>();
  for (const [exportName, value] of Object.entries(mod)) {
    if (Huey.isHuey(value) && ![...found.values()].includes(value)) found.set(exportName, value);
  }
  if (found.size === 0) {
    throw new LoadError(
      `tasks file ${file} exports no Huey instance; add for example: export const huey = new SqliteHuey({ name: "app", filename: "app.db" })`,
    );
  }
  if (instance !== null) {
    for (const [exportName, h] of found) if (exportName === instance || h.name === instance) return h;
    throw new LoadError(
      `tasks file ${file} has no Huey instance "${instance}"; it exports: ${describe(found)}`,
    );
  }
  if (found.size > 1) {
    throw new LoadError(`tasks file ${file} exports several Huey instances (${describe(found)}); choose one with --instance NAME`);
  }
  return [...found.values()][0]!;
}

function describe(found: Map<string, Huey>): string {
  return [...found].map(([e, h]) => `${e} (name "${h.name}")`).join(", ");
}
