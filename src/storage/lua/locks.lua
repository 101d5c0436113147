-- Lease-style locks. ARGV = op, then:
--   acquire key owner until now -> the new fence, or nil when held by another
--   renew owner until key... -> the keys not renewed (lost or never held)
--   release key owner ("" for whoever holds it) -> 1 or 0 | list now -> flat (key, owner, until, fence)
-- A holder's fence is its key's counter in lock_fence: only an acquisition bumps it.
local op = arg()

local function held_past(key, now)
  local u = redis.call('HGET', K.lock_until, key)
  return u and tonumber(u) > now
end

if op == 'acquire' then
  local key, owner, until_ms, now = arg(), arg(), arg(), argn()
  if held_past(key, now) and redis.call('HGET', K.lock_owner, key) ~= owner then return false end
  redis.call('HSET', K.lock_owner, key, owner)
  redis.call('HSET', K.lock_until, key, until_ms)
  return redis.call('HINCRBY', K.lock_fence, key, 1)
elseif op == 'renew' then
  local owner, until_ms = arg(), arg()
  local lost = {}
  for i = argi + 1, #ARGV do
    if redis.call('HGET', K.lock_owner, ARGV[i]) == owner then
      redis.call('HSET', K.lock_until, ARGV[i], until_ms)
    else
      lost[#lost + 1] = ARGV[i]
    end
  end
  return lost
elseif op == 'release' then
  local key, owner = arg(), arg()
  local holder = redis.call('HGET', K.lock_owner, key)
  if not holder or (owner ~= '' and holder ~= owner) then return 0 end
  redis.call('HDEL', K.lock_owner, key)
  redis.call('HDEL', K.lock_until, key)
  return 1
elseif op == 'list' then
  local now = argn()
  local keys = redis.call('HKEYS', K.lock_owner)
  table.sort(keys)
  local out = {}
  for _, key in ipairs(keys) do
    if held_past(key, now) then
      out[#out + 1] = key
      out[#out + 1] = redis.call('HGET', K.lock_owner, key)
      out[#out + 1] = redis.call('HGET', K.lock_until, key)
      out[#out + 1] = tonumber(redis.call('HGET', K.lock_fence, key) or '0')
    end
  end
  return out
end
return redis.error_reply('unknown lock op ' .. tostring(op))
