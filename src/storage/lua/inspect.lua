-- Read-only views for tools. ARGV = op, then:
--   pending limit -> flat (id, name, priority, payload, leased 1/0): ready and leased, in lease order
--   scheduled limit -> flat (id, name, priority, payload, eta), earliest first
--   next_eta -> the earliest eta as a string, or nil
local op = arg()

local function row(out, id, last)
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', K.name, id)
  out[#out + 1] = redis.call('HGET', K.priority, id)
  out[#out + 1] = redis.call('HGET', K.payload, id)
  out[#out + 1] = last
end

if op == 'pending' then
  local limit = argn()
  if limit <= 0 then return {} end
  -- Leased items (few: bounded by consumers' concurrency) merged with the first `limit` ready.
  local all = {}
  local ready = redis.call('ZRANGE', K.ready, 0, limit - 1, 'WITHSCORES')
  for i = 1, #ready, 2 do
    all[#all + 1] = { score = tonumber(ready[i + 1]), member = ready[i], leased = 0 }
  end
  for _, id in ipairs(redis.call('ZRANGE', K.leased, 0, -1)) do
    local score = -tonumber(redis.call('HGET', K.priority, id))
    all[#all + 1] = { score = score, member = redis.call('HGET', K.member, id), leased = 1 }
  end
  table.sort(all, function(a, b)
    if a.score ~= b.score then return a.score < b.score end
    return a.member < b.member
  end)
  local out = {}
  for i = 1, math.min(limit, #all) do row(out, member_id(all[i].member), all[i].leased) end
  return out
elseif op == 'scheduled' then
  local limit = argn()
  if limit <= 0 then return {} end
  local out = {}
  local due = redis.call('ZRANGE', K.schedule, 0, limit - 1, 'WITHSCORES')
  for i = 1, #due, 2 do row(out, member_id(due[i]), due[i + 1]) end
  return out
elseif op == 'next_eta' then
  local first = redis.call('ZRANGE', K.schedule, 0, 0, 'WITHSCORES')
  return first[2]
end
return redis.error_reply('unknown inspect op ' .. tostring(op))
