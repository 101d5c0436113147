-- bun-huey PostgreSQL schema 4: task ids are unique per queue, not per schema. Two queues in one
-- schema may both hold a task "nightly:<tick>" (the id of a periodic task's tick). results, kv,
-- locks, counters and lock_fences were keyed by (queue, ...) already. Rows are kept.

ALTER TABLE queue DROP CONSTRAINT queue_id_key, ADD CONSTRAINT queue_queue_id_key UNIQUE (queue, id);
ALTER TABLE schedule DROP CONSTRAINT schedule_pkey, ADD PRIMARY KEY (queue, id);
