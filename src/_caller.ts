// Where a relative database filename is resolved: the folder of the file that called the library's
// constructor, so the consumer, the CLI and a web app started from other folders open the same file.
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The folder of the source file that called `ctor` (found from a captured stack), or null when no caller
 * on disk can be found (code from eval or a REPL, or frames only inside the compiled binary's /$bunfs/).
 */
export function callerDir(ctor: Function): string | null {
  const original = Error.prepareStackTrace;
  try {
    Error.prepareStackTrace = (_err, sites) => sites;
    const holder: { stack?: unknown } = {};
    // Frames above `ctor` only: the first is the code that wrote `new ctor(...)` (or a subclass's constructor).
    Error.captureStackTrace(holder, ctor);
    const sites = Array.isArray(holder.stack) ? (holder.stack as { getFileName(): string | null | undefined }[]) : [];
    for (const site of sites) {
      let file = site.getFileName?.() ?? null;
      if (!file) continue;
      if (file.startsWith("file://")) file = fileURLToPath(file);
      if (!isAbsolute(file) || file.startsWith("/$bunfs/") || file.startsWith("B:/~BUN/")) continue;
      return dirname(file);
    }
    return null;
  } catch {
    return null;
  } finally {
    Error.prepareStackTrace = original;
  }
}

/**
 * `filename` made absolute: `:memory:` and absolute paths as they are; a relative path against the caller's
 * folder, or the working directory when no caller was found.
 */
export function resolveDbFilename(filename: string, ctor: Function): string {
  if (filename === ":memory:" || filename === "" || isAbsolute(filename)) return filename;
  return resolve(callerDir(ctor) ?? process.cwd(), filename);
}
