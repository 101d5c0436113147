-- bun-huey schema 5: task ids are unique per queue, not per file. Two queues in one file may
-- both hold a task "nightly:<tick>" (the id of a periodic task's tick). results, kv, locks,
-- counters and lock_fences were keyed by (queue, ...) already; queue and schedule had a
-- file-wide unique id. SQLite cannot drop a constraint, so both tables are rebuilt, rows kept.

CREATE TABLE queue_v5 (
  seq          INTEGER PRIMARY KEY,
  queue        TEXT    NOT NULL,
  id           TEXT    NOT NULL,
  name         TEXT    NOT NULL,
  priority     INTEGER NOT NULL,
  payload      TEXT    NOT NULL,
  leased_until INTEGER,
  token        TEXT,
  leases       INTEGER NOT NULL DEFAULT 0,
  UNIQUE (queue, id)
);
INSERT INTO queue_v5 (seq, queue, id, name, priority, payload, leased_until, token, leases)
  SELECT seq, queue, id, name, priority, payload, leased_until, token, leases FROM queue;
DROP TABLE queue;
ALTER TABLE queue_v5 RENAME TO queue;
CREATE INDEX queue_ready ON queue (queue, priority DESC, seq) WHERE leased_until IS NULL;
CREATE INDEX queue_leased ON queue (leased_until) WHERE leased_until IS NOT NULL;

-- seq names the rowid that orders equal etas, so it is kept here (and by VACUUM, which may
-- renumber an unnamed rowid).
CREATE TABLE schedule_v5 (
  seq      INTEGER PRIMARY KEY,
  queue    TEXT    NOT NULL,
  id       TEXT    NOT NULL,
  name     TEXT    NOT NULL,
  priority INTEGER NOT NULL,
  eta      INTEGER NOT NULL,
  payload  TEXT    NOT NULL,
  UNIQUE (queue, id)
);
INSERT INTO schedule_v5 (seq, queue, id, name, priority, eta, payload)
  SELECT rowid, queue, id, name, priority, eta, payload FROM schedule;
DROP TABLE schedule;
ALTER TABLE schedule_v5 RENAME TO schedule;
CREATE INDEX schedule_due ON schedule (queue, eta);
