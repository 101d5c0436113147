-- bun-huey schema 6: lanes (the task option `queue`) within a queue, and paused lanes. Tasks stored
-- before this schema belong to the lane "default".

ALTER TABLE queue ADD COLUMN lane TEXT NOT NULL DEFAULT 'default';
ALTER TABLE schedule ADD COLUMN lane TEXT NOT NULL DEFAULT 'default';
-- The ready set per lane, in lease order: a lease of one lane, and the walk that finds the lanes
-- with ready items (one index seek per lane), never scan another lane's rows.
CREATE INDEX queue_lane_ready ON queue (queue, lane, priority DESC, seq) WHERE leased_until IS NULL;

-- A paused lane is not leased until `until` (epoch ms), or until resumed when it is NULL.
CREATE TABLE pauses (
  queue TEXT NOT NULL,
  lane  TEXT NOT NULL,
  until INTEGER,
  PRIMARY KEY (queue, lane)
) WITHOUT ROWID;
