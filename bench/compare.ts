// `bun run bench:compare`: two versions (or two settings) side by side on a noisy machine. It runs
// `bun run bench --json` with the same measurements for each, alternating (A B, B A, A B, ...) so that
// both see the machine in the same minutes, and prints per measurement each side's median, each side's
// median ratio to the raw "ours" baseline of its own run, and the median (min..max) of B over A within
// a round. A figure of one round alone moved by a third between neighbouring runs here; the paired
// ratios over a few rounds did not.
//
//   bun run bench:compare --b "--lib ../old" -- --only drain-steady --workers 0,1
//   bun run bench:compare --rounds 6 --a "--binary /tmp/huey-new" --b "--binary /tmp/huey-old" -- --only drain-steady --workers 1
//
// Everything after `--` goes to both sides; --a and --b add arguments to one side (split at spaces).
import { parseArgs } from "node:util";
import { resolve } from "node:path";

const USAGE = `usage: bun run bench:compare [--rounds N] [--a "ARGS"] [--b "ARGS"] -- BENCH ARGS

  --rounds N   rounds; each runs both sides once, in alternating order (default 4)
  --a ARGS     bench arguments of side A only (default none: this checkout as it is)
  --b ARGS     bench arguments of side B only, such as "--lib ../old" or "--binary /tmp/huey-old"
  BENCH ARGS   arguments for both sides (bun run bench --help), such as --only drain-steady --workers 1

Prints, per measurement: each side's median, its median ratio to the raw "ours" baseline measured in
its own run, and B over A paired within each round (median, min..max).`;

// "--b --lib ../old": a value that starts with a dash is taken as --b's own (parseArgs would refuse it).
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length - 1 && argv[i] !== "--"; i++) {
  if (argv[i] === "--a" || argv[i] === "--b") argv.splice(i, 2, `${argv[i]}=${argv[i + 1]}`);
}
const { values: opt, positionals } = parseArgs({
  args: argv,
  options: {
    rounds: { type: "string", default: "4" },
    a: { type: "string", default: "" },
    b: { type: "string", default: "" },
    help: { type: "boolean", short: "h", default: false },
  },
  allowPositionals: true,
  strict: true,
});
if (opt.help) {
  console.log(USAGE);
  process.exit(0);
}
function usage(msg: string): never {
  console.error(`bench:compare: ${msg}\n${USAGE}`);
  process.exit(2);
}
const rounds = Number(opt.rounds);
if (!Number.isInteger(rounds) || rounds < 1) usage(`--rounds must be a whole number of 1 or more, got "${opt.rounds}"`);
if (positionals.includes("--json")) usage("--json is given by bench:compare itself");
if (opt.a === opt.b) usage("--a and --b are the same: nothing to compare (give --b, such as --b \"--lib ../old\")");
const split = (s: string) => s.split(" ").filter(Boolean);
const sides = { A: [...positionals, ...split(opt.a!)], B: [...positionals, ...split(opt.b!)] };

interface Result {
  key: string;
  label: string;
  value: number;
  unit: string;
  ratio?: number;
}

const ROOT = resolve(import.meta.dir, "..");
async function runOnce(side: "A" | "B", round: number): Promise<Result[]> {
  const args = ["run", "bench/bench.ts", ...sides[side], "--json"];
  process.stderr.write(`bench:compare: round ${round + 1}/${rounds}, side ${side}: bun ${args.slice(1).join(" ")}\n`);
  const p = Bun.spawn(["bun", ...args], { cwd: ROOT, stdout: "pipe", stderr: "inherit" });
  const out = await new Response(p.stdout).text();
  const code = await p.exited;
  if (code !== 0) throw new Error(`side ${side}: bench exited with ${code}`);
  const start = out.indexOf("{\n");
  if (start < 0) throw new Error(`side ${side}: the bench printed no JSON:\n${out}`);
  return (JSON.parse(out.slice(start)) as { results: Result[] }).results;
}

const got: Record<"A" | "B", Map<string, Result[]>> = { A: new Map(), B: new Map() };
const paired = new Map<string, number[]>();
for (let r = 0; r < rounds; r++) {
  const order: ("A" | "B")[] = r % 2 === 0 ? ["A", "B"] : ["B", "A"];
  const round: Record<string, Result[]> = {};
  for (const side of order) round[side] = await runOnce(side, r);
  for (const side of ["A", "B"] as const) {
    for (const x of round[side]!) {
      const list = got[side].get(x.key) ?? [];
      list.push(x);
      got[side].set(x.key, list);
    }
  }
  for (const a of round.A!) {
    const b = round.B!.find((x) => x.key === a.key);
    if (!b || a.value === 0) continue;
    const list = paired.get(a.key) ?? [];
    list.push(b.value / a.value);
    paired.set(a.key, list);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const num = (v: number, unit: string) => (unit === "/s" ? `${Math.round(v).toLocaleString("en-US")}/s` : `${v.toFixed(2)} ${unit}`);
const head = ["measurement", "A", "A/raw", "B", "B/raw", "B/A paired", "min..max"];
const body: string[][] = [];
for (const [key, list] of got.A) {
  const bl = got.B.get(key);
  if (!bl) continue;
  const ratios = (l: Result[]) => l.map((x) => x.ratio).filter((x): x is number => x !== undefined);
  const [ra, rb] = [ratios(list), ratios(bl)];
  const p = paired.get(key) ?? [];
  body.push([
    list[0]!.label,
    num(median(list.map((x) => x.value)), list[0]!.unit),
    ra.length ? `${median(ra).toFixed(2)}x` : "",
    num(median(bl.map((x) => x.value)), bl[0]!.unit),
    rb.length ? `${median(rb).toFixed(2)}x` : "",
    p.length ? `${median(p).toFixed(2)}x` : "",
    p.length ? `${Math.min(...p).toFixed(2)}..${Math.max(...p).toFixed(2)}` : "",
  ]);
}
const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
console.log(`\nbench:compare, ${rounds} round(s), medians; A: ${sides.A.join(" ") || "(defaults)"}; B: ${sides.B.join(" ") || "(defaults)"}`);
console.log(line(head));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const b of body) console.log(line(b));
