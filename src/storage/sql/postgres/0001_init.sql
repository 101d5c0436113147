-- bun-huey PostgreSQL schema 1. Append-only: later changes go in 0002_*.sql and onwards.
-- Runs with search_path set to the configured schema, so names here are unqualified.
-- Times are epoch milliseconds (bigint). Priorities are double precision: any JS number orders as in JS.

-- Ready and leased tasks. seq gives FIFO order within a priority.
CREATE TABLE queue (
  seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue        text             NOT NULL,
  id           text             NOT NULL UNIQUE,
  name         text             NOT NULL,
  priority     double precision NOT NULL,
  payload      text             NOT NULL,
  leased_until bigint,
  token        text,
  leases       integer          NOT NULL DEFAULT 0
);
-- The ready set only: a lease never scans past leased rows.
CREATE INDEX queue_ready ON queue (queue, priority DESC, seq) WHERE leased_until IS NULL;
-- Leased rows by expiry, for reclaiming the leases of dead consumers.
CREATE INDEX queue_leased ON queue (queue, leased_until) WHERE leased_until IS NOT NULL;

-- Delayed tasks and retries waiting for their eta. seq breaks ties between equal etas.
CREATE TABLE schedule (
  id       text             PRIMARY KEY,
  seq      bigint           GENERATED ALWAYS AS IDENTITY,
  queue    text             NOT NULL,
  name     text             NOT NULL,
  priority double precision NOT NULL,
  eta      bigint           NOT NULL,
  payload  text             NOT NULL
);
CREATE INDEX schedule_due ON schedule (queue, eta, seq);

CREATE TABLE results (
  queue      text   NOT NULL,
  id         text   NOT NULL,
  payload    text   NOT NULL,
  expires_at bigint,
  PRIMARY KEY (queue, id)
);

-- COLLATE "C": keys sort by code point whatever the database locale, as in the other backends,
-- and a prefix is one contiguous range of the primary key.
CREATE TABLE kv (
  queue text NOT NULL,
  key   text COLLATE "C" NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (queue, key)
);

-- Lease-style locks: held by owner until `until` (epoch ms).
CREATE TABLE locks (
  queue text   NOT NULL,
  key   text COLLATE "C" NOT NULL,
  owner text   NOT NULL,
  until bigint NOT NULL,
  PRIMARY KEY (queue, key)
);

-- Windowed counters (rate limits).
CREATE TABLE counters (
  queue      text   NOT NULL,
  key        text   NOT NULL,
  value      bigint NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (queue, key)
);
