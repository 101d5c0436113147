-- Pauses and flush. ARGV = op, then:
--   pause lane until ("" until resumed) | resume lane -> 1 or 0 (wakes consumers when 1)
--   paused now -> flat (lane, until or "") of the lanes paused at `now`
--   flush n -> deletes the first n KEYS (the data keys) and every lane's sets
local op = arg()
if op == 'pause' then
  redis.call('HSET', K.pauses, arg(), arg())
  return 1
elseif op == 'resume' then
  local n = redis.call('HDEL', K.pauses, arg())
  if n > 0 then wake(K.wake_queue) end
  return n
elseif op == 'paused' then
  local now = argn()
  local all = redis.call('HGETALL', K.pauses)
  local out = {}
  for i = 1, #all, 2 do
    local until_ms = all[i + 1]
    if until_ms == '' or tonumber(until_ms) > now then
      out[#out + 1] = all[i]
      out[#out + 1] = until_ms
    end
  end
  return out
elseif op == 'flush' then
  for _, lane in ipairs(redis.call('SMEMBERS', K.lanes)) do
    redis.call('DEL', lane_key(K.ready, lane), lane_key(K.schedule, lane))
  end
  for i = 1, argn() do redis.call('DEL', KEYS[i]) end
  return 1
end
return redis.error_reply('unknown lanes op ' .. tostring(op))
