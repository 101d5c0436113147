-- enqueueDeduped: ARGV = key, mode ("throttle" | "replace"), until, now, id, name, priority,
-- payload, eta ("" for ready now), lane. Returns {"stored"}, {"merged", id} or {"conflict", holder}
-- (holder "" for none); see Storage.enqueueDeduped. The kv value is "<until>:<id>".
local key, mode, window_end, now = arg(), arg(), arg(), argn()
local id, name, priority, payload, eta, lane = arg(), arg(), arg(), arg(), arg(), arg()
local entry = redis.call('HGET', K.kv, key)
local e_until, e_id = nil, nil
if entry then
  local i = string.find(entry, ':', 1, true)
  if i then
    e_until = tonumber(string.sub(entry, 1, i - 1))
    e_id = string.sub(entry, i + 1)
  end
end
-- Pending: stored and not leased (scheduled or queued). A leased item is never touched.
local function pending(x)
  return redis.call('HEXISTS', K.payload, x) == 1 and redis.call('HEXISTS', K.token, x) == 0
end
local function put()
  if eta == '' then
    insert_ready(id, name, priority, payload, lane)
  else
    insert_scheduled(id, name, priority, payload, eta, lane)
  end
end
if mode == 'throttle' then
  if e_id and e_until and e_until > now then return { 'merged', e_id } end
else
  if e_id and e_id ~= id and pending(e_id) then return { 'conflict', e_id } end
  if e_id and e_id == id then
    if not pending(id) then return { 'conflict', '' } end
    local member = redis.call('HGET', K.member, id)
    unready(id, member)
    unschedule(id, member)
    forget(id)
    put()
    wake(K.wake_queue)
    return { 'merged', id }
  end
end
if redis.call('HEXISTS', K.payload, id) == 1 then return duplicate(id) end
put()
put_data(key, window_end .. ':' .. id)
wake(K.wake_queue)
return { 'stored' }
