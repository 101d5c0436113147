// Compiles the one executable: `bun run build` -> dist/huey (Bun itself is inside).
// `bun run build --target linux-arm64` cross-compiles -> dist/huey-linux-arm64 (Bun downloads that
// platform's runtime from the npm registry on first use).
// Both entrypoints are needed: a Worker entry left out of the build fails only at run time with
// ModuleNotFound /$bunfs/root/... .
import { $ } from "bun";

/** Our target names -> Bun's `--target` for `bun build --compile`. */
const TARGETS: Record<string, string> = {
  "linux-x64": "bun-linux-x64",
  "linux-arm64": "bun-linux-arm64",
  "linux-x64-musl": "bun-linux-x64-musl",
  "linux-arm64-musl": "bun-linux-arm64-musl",
};
const USAGE = `usage: bun run build [--target <target>]   (targets: ${Object.keys(TARGETS).join(", ")})`;

function usageError(message: string): never {
  process.stderr.write(`build: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseTarget(argv: string[]): string | undefined {
  let target: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let value: string | undefined;
    if (arg === "--target") {
      value = argv[++i];
      if (value === undefined) usageError("--target needs a value");
    } else if (arg.startsWith("--target=")) {
      value = arg.slice("--target=".length);
    } else if (arg === "-h" || arg === "--help") {
      process.stdout.write(`${USAGE}\nWithout --target: dist/huey for this machine. HUEY_BUILD_OUT=path sets the output file.\n`);
      process.exit(0);
    } else {
      usageError(`unknown argument ${JSON.stringify(arg)}`);
    }
    if (!Object.hasOwn(TARGETS, value!)) usageError(`unknown target ${JSON.stringify(value)}; known targets: ${Object.keys(TARGETS).join(", ")}`);
    target = value;
  }
  return target;
}

const target = parseTarget(process.argv.slice(2));
const outfile = process.env.HUEY_BUILD_OUT ?? (target ? `dist/huey-${target}` : "dist/huey");
const targetFlag = target ? [`--target=${TARGETS[target]}`] : [];
const t0 = performance.now();
await $`mkdir -p ${outfile.replace(/\/[^/]*$/, "") || "."}`;
const result = await $`bun build --compile --minify --sourcemap --bytecode --format=esm ${targetFlag} \
  --compile-autoload-tsconfig --compile-autoload-package-json \
  --no-compile-autoload-bunfig --no-compile-autoload-dotenv \
  src/cli.ts src/consumer/worker-entry.ts --outfile ${outfile}`.nothrow().quiet();
if (result.exitCode !== 0) {
  process.stderr.write(result.stderr);
  process.stderr.write(result.stdout);
  process.exit(result.exitCode);
}
console.log(`built ${outfile}${target ? ` (${target})` : ""} in ${Math.round(performance.now() - t0)}ms`);
