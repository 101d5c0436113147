-- bun-huey schema 2: advisory locks (leases with an owner) and windowed counters (rate limits).

CREATE TABLE locks (
  queue TEXT    NOT NULL,
  key   TEXT    NOT NULL,
  owner TEXT    NOT NULL,
  until INTEGER NOT NULL,
  PRIMARY KEY (queue, key)
) WITHOUT ROWID;

CREATE TABLE counters (
  queue      TEXT    NOT NULL,
  key        TEXT    NOT NULL,
  value      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (queue, key)
) WITHOUT ROWID;
