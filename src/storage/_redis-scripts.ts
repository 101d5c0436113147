import type { RedisClient } from "bun";
import { errorMessage } from "./_redis-connection";
// Imported as text so `bun build --compile` embeds them. common.lua is prepended to each script.
import commonLua from "./lua/common.lua" with { type: "text" };
import commitLua from "./lua/commit.lua" with { type: "text" };
import counterLua from "./lua/counter.lua" with { type: "text" };
import dedupLua from "./lua/dedup.lua" with { type: "text" };
import dataLua from "./lua/data.lua" with { type: "text" };
import inspectLua from "./lua/inspect.lua" with { type: "text" };
import laneLua from "./lua/lanes.lua" with { type: "text" };
import leaseLua from "./lua/lease.lua" with { type: "text" };
import locksLua from "./lua/locks.lua" with { type: "text" };
import promoteLua from "./lua/promote.lua" with { type: "text" };
import purgeLua from "./lua/purge.lua" with { type: "text" };
import reclaimLua from "./lua/reclaim.lua" with { type: "text" };
import releaseLua from "./lua/release.lua" with { type: "text" };
import renewLua from "./lua/renew.lua" with { type: "text" };
import resultLua from "./lua/result.lua" with { type: "text" };
import uniqueLua from "./lua/unique.lua" with { type: "text" };

/** Keys passed to every script, in the order lua/common.lua names them. */
export const KEY_PARTS = [
  "ready", "leased", "schedule", "payload", "name", "priority", "member", "leases", "token", "seq",
  "results", "results_exp", "kv", "kv_index", "counters", "counters_exp", "lock_owner", "lock_until",
  "lane", "lanes", "pauses", "wake_queue", "wake_results", "lock_fence",
] as const;
/**
 * flush deletes the keys before these (and the per-lane sets, see lua/common.lua): the two pub/sub
 * channel names (not keys), and the lock fence counters, which must outlive a flush so that no
 * fence is handed out twice.
 */
export const DATA_KEYS = KEY_PARTS.indexOf("wake_queue");

export interface Script {
  text: string;
  sha: string;
}

function script(body: string): Script {
  const text = `${commonLua}\n${body}`;
  return { text, sha: new Bun.CryptoHasher("sha1").update(text).digest("hex") };
}

export const SCRIPTS = {
  commit: script(commitLua),
  purge: script(purgeLua),
  counter: script(counterLua),
  data: script(dataLua),
  dedup: script(dedupLua),
  inspect: script(inspectLua),
  lanes: script(laneLua),
  lease: script(leaseLua),
  locks: script(locksLua),
  promote: script(promoteLua),
  reclaim: script(reclaimLua),
  release: script(releaseLua),
  renew: script(renewLua),
  result: script(resultLua),
  unique: script(uniqueLua),
};

export type Arg = string | number;

/** EVALSHA, and EVAL when the server does not have the script yet (new or restarted server). */
export async function evalScript(client: RedisClient, s: Script, keys: string[], args: Arg[]): Promise<unknown> {
  const argv = [s.sha, String(keys.length), ...keys, ...args.map(String)];
  try {
    return await client.send("EVALSHA", argv);
  } catch (err) {
    if (!/NOSCRIPT/.test(errorMessage(err))) throw err;
    argv[0] = s.text;
    return await client.send("EVAL", argv);
  }
}
