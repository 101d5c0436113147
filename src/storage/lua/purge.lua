-- purgeExpired: ARGV = now. Drops results, counters and locks that expired by `now` (the
-- caller's clock, as everywhere here); returns how many.
local now = argn()
local n = 0
for _, id in ipairs(redis.call('ZRANGE', K.results_exp, '-inf', now, 'BYSCORE')) do
  n = n + delete_result(id)
end
local counters = redis.call('HGETALL', K.counters_exp)
for i = 1, #counters, 2 do
  if tonumber(counters[i + 1]) <= now then
    redis.call('HDEL', K.counters, counters[i])
    redis.call('HDEL', K.counters_exp, counters[i])
    n = n + 1
  end
end
local locks = redis.call('HGETALL', K.lock_until)
for i = 1, #locks, 2 do
  if tonumber(locks[i + 1]) <= now then
    redis.call('HDEL', K.lock_until, locks[i])
    redis.call('HDEL', K.lock_owner, locks[i])
    n = n + 1
  end
end
return n
