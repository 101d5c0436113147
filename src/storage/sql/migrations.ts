// Imported as text so `bun build --compile` embeds them in the binary. Append only.
import m0001 from "./0001_init.sql" with { type: "text" };
import m0002 from "./0002_locks_counters.sql" with { type: "text" };
import m0003 from "./0003_expiry_indexes.sql" with { type: "text" };
import m0004 from "./0004_lock_fences.sql" with { type: "text" };
import m0005 from "./0005_ids_per_queue.sql" with { type: "text" };
import m0006 from "./0006_lanes.sql" with { type: "text" };
import m0007 from "./0007_one_ready_index.sql" with { type: "text" };
import m0008 from "./0008_claims.sql" with { type: "text" };

export const SQLITE_MIGRATIONS: readonly { version: number; sql: string }[] = [
  { version: 1, sql: m0001 },
  { version: 2, sql: m0002 },
  { version: 3, sql: m0003 },
  { version: 4, sql: m0004 },
  { version: 5, sql: m0005 },
  { version: 6, sql: m0006 },
  { version: 7, sql: m0007 },
  { version: 8, sql: m0008 },
];
