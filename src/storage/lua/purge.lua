-- purgeExpired: ARGV = now, limit. Drops results, counters and locks that expired by `now` (the
-- caller's clock, as everywhere here), at most `limit` of each kind, so one call never blocks the
-- server for long; returns how many.
local now = argn()
local limit = argn()
local n = 0
for _, id in ipairs(redis.call('ZRANGE', K.results_exp, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)) do
  n = n + delete_result(id)
end

-- Entries whose expiry (in `expiry`, a HASH key -> epoch ms) has passed, dropped from both hashes.
-- These hashes hold one field per rate-limit window or lock key in use: small, so read whole.
local function drop_expired(expiry, values)
  local pairs_ = redis.call('HGETALL', expiry)
  local dropped = 0
  for i = 1, #pairs_, 2 do
    if dropped >= limit then break end
    if tonumber(pairs_[i + 1]) <= now then
      redis.call('HDEL', expiry, pairs_[i])
      redis.call('HDEL', values, pairs_[i])
      dropped = dropped + 1
    end
  end
  n = n + dropped
end

drop_expired(K.counters_exp, K.counters)
drop_expired(K.lock_until, K.lock_owner)
return n
