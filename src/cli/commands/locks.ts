import { defineCommand } from "citty";
import { commonArgs, extraPositionals, fileArg, withHuey } from "../_context";
import { formatDuration, inert, out, plural, printJson, style, table } from "../_output";

const args = {
  file: fileArg,
  flush: { type: "boolean", description: "free the named locks (--flush KEY...), or every lock (locks a killed consumer left)" },
  ...commonArgs,
} as const;

export default defineCommand({
  meta: {
    name: "locks",
    description:
      "List the locks held now (lock option, lockTask, withLock), or free them with --flush.\n\n" +
      "Examples:\n" +
      "  huey locks tasks.ts\n" +
      "  huey locks tasks.ts --flush daily-sync",
  },
  args,
  async run({ args: a, rawArgs }) {
    const keys = extraPositionals(rawArgs, args, "locks", 0, a.flush ? Infinity : 0);
    await withHuey(a.file, a.instance, async (huey) => {
      if (a.flush) {
        const freed = await huey.flushLocks(...keys);
        return a.json ? printJson({ freed }) : out(`freed ${plural(freed, "lock")}`);
      }
      const now = Date.now();
      const rows = (await huey.locks()).map((l) => ({ key: l.key, owner: l.owner, until: l.until, fence: l.fence }));
      if (a.json) return printJson(rows);
      if (rows.length === 0) return out(style.dim("no locks held"));
      const cells = rows.map((l) => [style.cyan(inert(l.key)), inert(l.owner), formatDuration(Math.max(0, l.until - now)), String(l.fence)]);
      out(table(["KEY", "OWNER", "EXPIRES IN", "FENCE"], cells));
    });
  },
});
