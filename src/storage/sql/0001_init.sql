-- bun-huey schema 1. Append-only: later changes go in 0002_*.sql and onwards.

-- Ready and leased tasks. seq gives FIFO order within a priority.
CREATE TABLE queue (
  seq          INTEGER PRIMARY KEY,
  queue        TEXT    NOT NULL,
  id           TEXT    NOT NULL UNIQUE,
  name         TEXT    NOT NULL,
  priority     INTEGER NOT NULL,
  payload      TEXT    NOT NULL,
  leased_until INTEGER,
  token        TEXT,
  leases       INTEGER NOT NULL DEFAULT 0
);
-- The ready set only: a lease never scans past leased rows.
CREATE INDEX queue_ready ON queue (queue, priority DESC, seq) WHERE leased_until IS NULL;
-- Leased rows by expiry, for reclaiming the leases of dead consumers.
CREATE INDEX queue_leased ON queue (leased_until) WHERE leased_until IS NOT NULL;

-- Delayed tasks and retries waiting for their eta.
CREATE TABLE schedule (
  id       TEXT    PRIMARY KEY,
  queue    TEXT    NOT NULL,
  name     TEXT    NOT NULL,
  priority INTEGER NOT NULL,
  eta      INTEGER NOT NULL,
  payload  TEXT    NOT NULL
);
CREATE INDEX schedule_due ON schedule (queue, eta);

CREATE TABLE results (
  queue      TEXT NOT NULL,
  id         TEXT NOT NULL,
  payload    TEXT NOT NULL,
  expires_at INTEGER,
  PRIMARY KEY (queue, id)
) WITHOUT ROWID;

CREATE TABLE kv (
  queue TEXT NOT NULL,
  key   TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (queue, key)
) WITHOUT ROWID;
