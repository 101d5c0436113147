// RedisStorage.locate(): one task by id, read in one script from the per-queue hashes (no scan).
import commonLua from "./lua/common.lua" with { type: "text" };
import locateLua from "./lua/locate.lua" with { type: "text" };
import type { Arg, Script } from "./_redis-scripts";
import { DEFAULT_LANE, type LocatedItem } from "./types";

const text = `${commonLua}\n${locateLua}`;
export const LOCATE_SCRIPT: Script = { text, sha: new Bun.CryptoHasher("sha1").update(text).digest("hex") };

/** `run` evaluates LOCATE_SCRIPT with the storage's keys. */
export async function redisLocate(run: (s: Script, args: Arg[], what: string) => Promise<unknown>, id: string): Promise<LocatedItem | null> {
  const r = (await run(LOCATE_SCRIPT, [id], "locate task")) as Arg[] | null;
  if (!r) return null;
  const [where, name, priority, payload, leases, at, lane] = r.map(String) as [LocatedItem["where"], string, string, string, string, string, string | undefined];
  const base = { id, name, priority: Number(priority), payload, lane: lane || DEFAULT_LANE, leases: Number(leases) };
  if (where === "leased") return { ...base, where, leasedUntil: Number(at) };
  if (where === "scheduled") return { ...base, where, eta: Number(at) };
  return { ...base, where: "ready" };
}
