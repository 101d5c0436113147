-- lease: ARGV = max, leaseUntil, token. Returns flat (id, name, priority, payload, leases) rows,
-- highest priority first, FIFO within a priority.
local max = argn()
local until_ms = arg()
local token = arg()
local out = {}
if max <= 0 then return out end
-- ZPOPMIN returns member, score pairs in ready order.
local popped = redis.call('ZPOPMIN', K.ready, max)
for i = 1, #popped, 2 do
  local id = member_id(popped[i])
  redis.call('ZADD', K.leased, until_ms, id)
  redis.call('HSET', K.token, id, token)
  local leases = redis.call('HINCRBY', K.leases, id, 1)
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', K.name, id)
  out[#out + 1] = redis.call('HGET', K.priority, id)
  out[#out + 1] = redis.call('HGET', K.payload, id)
  out[#out + 1] = leases
end
return out
