-- enqueueUnique: ARGV = key, id, name, priority, payload, eta ("" for ready now), lane.
-- Returns the holder's id when `key` names an item still queued, scheduled or leased; else
-- stores the item, points `key` at it and returns false (nil to the client).
local key, id, name, priority, payload, eta, lane = arg(), arg(), arg(), arg(), arg(), arg(), arg()
local holder = redis.call('HGET', K.kv, key)
if holder and redis.call('HEXISTS', K.payload, holder) == 1 then return holder end
if redis.call('HEXISTS', K.payload, id) == 1 then return duplicate(id) end
if eta == '' then
  insert_ready(id, name, priority, payload, lane)
else
  insert_scheduled(id, name, priority, payload, eta, lane)
end
put_data(key, id)
wake(K.wake_queue)
return false
