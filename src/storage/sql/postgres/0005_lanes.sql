-- bun-huey PostgreSQL schema 5: lanes (the task option `queue`) within a queue, and paused lanes.
-- Tasks stored before this schema belong to the lane "default"; no row is rewritten (a constant
-- default is stored once in the catalogue). COLLATE "C": lanes sort by code point, as elsewhere.

ALTER TABLE queue ADD COLUMN lane text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE schedule ADD COLUMN lane text COLLATE "C" NOT NULL DEFAULT 'default';
-- The ready set per lane, in lease order: a lease of one lane, and the walk that finds the lanes
-- with ready items (one index seek per lane), never scan another lane's rows.
CREATE INDEX queue_lane_ready ON queue (queue, lane, priority DESC, seq) WHERE leased_until IS NULL;

-- A paused lane is not leased (with a filter) until `until` (epoch ms), or until resumed when NULL.
CREATE TABLE pauses (
  queue text   NOT NULL,
  lane  text COLLATE "C" NOT NULL,
  until bigint,
  PRIMARY KEY (queue, lane)
);
