-- bun-huey PostgreSQL schema 3: fencing tokens for locks. One counter per (queue, key), bumped by
-- every acquisition. Releases, purgeExpired and flush delete rows of `locks` but never of this
-- table, so a token is never handed out twice. The holder's token is its key's current counter.

CREATE TABLE lock_fences (
  queue text   NOT NULL,
  key   text COLLATE "C" NOT NULL,
  fence bigint NOT NULL,
  PRIMARY KEY (queue, key)
);

-- Locks held across the upgrade read as fence 0; the next acquisition of their key gets 1.
INSERT INTO lock_fences (queue, key, fence) SELECT queue, key, 0 FROM locks;
