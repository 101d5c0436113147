-- purgeExpired: ARGV = now. Drops results, counters and locks that expired by `now` (the
-- caller's clock, as everywhere here); returns how many.
local now = argn()
local n = 0
for _, id in ipairs(redis.call('ZRANGE', K.results_exp, '-inf', now, 'BYSCORE')) do
  n = n + delete_result(id)
end

-- Entries whose expiry (in `expiry`, a HASH key -> epoch ms) has passed, dropped from both hashes.
local function drop_expired(expiry, values)
  local pairs_ = redis.call('HGETALL', expiry)
  for i = 1, #pairs_, 2 do
    if tonumber(pairs_[i + 1]) <= now then
      redis.call('HDEL', expiry, pairs_[i])
      redis.call('HDEL', values, pairs_[i])
      n = n + 1
    end
  end
end

drop_expired(K.counters_exp, K.counters)
drop_expired(K.lock_until, K.lock_owner)
return n
