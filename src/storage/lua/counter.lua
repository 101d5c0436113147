-- incr: ARGV = key, by, expiresAt, now. A counter past its expiresAt starts again from 0 with
-- the new expiresAt (a fixed window). Returns the new value.
local key, by, expires_at, now = arg(), argn(), arg(), argn()
local old_exp = redis.call('HGET', K.counters_exp, key)
local value = by
if old_exp and tonumber(old_exp) > now then
  value = tonumber(redis.call('HGET', K.counters, key)) + by
else
  redis.call('HSET', K.counters_exp, key, expires_at)
end
redis.call('HSET', K.counters, key, value)
return value
