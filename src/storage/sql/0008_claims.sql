-- bun-huey schema 8: a lease claims its rows with a few rows of `claims` instead of rewriting each
-- leased row. A claim holds the rows of one (queue, lane, priority) whose seq lies in [lo, hi] and
-- whose leased_until is NULL; leases never overlap, and [lo, hi] is kept tight (lo and hi are rows the
-- claim holds), so a row inserted later, whose seq is past the largest in the table, is never inside
-- a live claim. Each lease held at the upgrade becomes a claim of its row, with its token and deadline
-- (its lease is then counted when the claim ends, as a claim's are). See README, architecture.
CREATE TABLE claims (
  token    TEXT    NOT NULL,
  queue    TEXT    NOT NULL,
  lane     TEXT    NOT NULL,
  priority INTEGER NOT NULL,
  lo       INTEGER NOT NULL,
  hi       INTEGER NOT NULL,
  until    INTEGER NOT NULL
);
-- Is this row claimed: the claim of its (queue, lane, priority) with the first hi at or past its seq.
CREATE INDEX claims_range ON claims (queue, lane, priority, hi);
-- A lease's claims, for its acks, renewals and releases.
CREATE INDEX claims_token ON claims (token);
-- Expired claims, for reclaimExpired.
CREATE INDEX claims_until ON claims (queue, until);

INSERT INTO claims (token, queue, lane, priority, lo, hi, until)
  SELECT token, queue, lane, priority, seq, seq, leased_until FROM queue WHERE leased_until IS NOT NULL AND token IS NOT NULL;
UPDATE queue SET leases = max(leases - 1, 0), leased_until = NULL, token = NULL WHERE leased_until IS NOT NULL AND token IS NOT NULL;
