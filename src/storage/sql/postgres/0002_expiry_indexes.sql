-- bun-huey PostgreSQL schema 2: find expired results and counters without scanning (purgeExpired).

CREATE INDEX results_expiry ON results (queue, expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX counters_expiry ON counters (queue, expires_at);
