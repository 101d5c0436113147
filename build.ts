// Compiles the one executable: `bun run build` -> dist/huey (Bun itself is inside).
// Both entrypoints are needed: a Worker entry left out of the build fails only at run time with
// ModuleNotFound /$bunfs/root/... .
import { $ } from "bun";

const outfile = process.env.HUEY_BUILD_OUT ?? "dist/huey";
const t0 = performance.now();
await $`mkdir -p ${outfile.replace(/\/[^/]*$/, "") || "."}`;
const result = await $`bun build --compile --minify --sourcemap --bytecode --format=esm \
  --compile-autoload-tsconfig --compile-autoload-package-json \
  --no-compile-autoload-bunfig --no-compile-autoload-dotenv \
  src/cli.ts src/consumer/worker-entry.ts --outfile ${outfile}`.nothrow().quiet();
if (result.exitCode !== 0) {
  process.stderr.write(result.stderr);
  process.stderr.write(result.stdout);
  process.exit(result.exitCode);
}
console.log(`built ${outfile} in ${Math.round(performance.now() - t0)}ms`);
