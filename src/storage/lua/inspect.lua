-- Read-only views for tools (adopt_unlaned aside). ARGV = op, then:
--   pending limit lane -> flat (id, name, priority, payload, lane, leased 1/0): ready and leased, in
--     lease order, of one lane ("" for every lane)
--   scheduled limit lane -> flat (id, name, priority, payload, lane, eta), earliest first
--   next_eta -> the earliest eta as a string, or nil
--   count what lane -> how many items of the lane are ready / leased / scheduled
local op = arg()

local function row(out, id, last)
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', K.name, id)
  out[#out + 1] = redis.call('HGET', K.priority, id)
  out[#out + 1] = redis.call('HGET', K.payload, id)
  out[#out + 1] = lane_of(id)
  out[#out + 1] = last
end

-- The first `limit` members of `global`, or of its lane's set (stale members skipped).
local function first(global, lane, limit)
  if lane == '' then return redis.call('ZRANGE', global, 0, limit - 1, 'WITHSCORES') end
  adopt_unlaned()
  local out = {}
  local start = 0
  while #out < 2 * limit do
    local batch = redis.call('ZRANGE', lane_key(global, lane), start, start + limit - 1, 'WITHSCORES')
    if #batch == 0 then break end
    for i = 1, #batch, 2 do
      if #out < 2 * limit and redis.call('ZSCORE', global, batch[i]) then
        out[#out + 1] = batch[i]
        out[#out + 1] = batch[i + 1]
      end
    end
    start = start + limit
  end
  return out
end

if op == 'pending' then
  local limit, lane = argn(), arg()
  if limit <= 0 then return {} end
  -- Leased items (few: bounded by consumers' concurrency) merged with the first `limit` ready.
  local all = {}
  local ready = first(K.ready, lane, limit)
  for i = 1, #ready, 2 do
    all[#all + 1] = { score = tonumber(ready[i + 1]), member = ready[i], leased = 0 }
  end
  for _, id in ipairs(redis.call('ZRANGE', K.leased, 0, -1)) do
    if lane == '' or lane_of(id) == lane then
      local score = -tonumber(redis.call('HGET', K.priority, id))
      all[#all + 1] = { score = score, member = redis.call('HGET', K.member, id), leased = 1 }
    end
  end
  table.sort(all, function(a, b)
    if a.score ~= b.score then return a.score < b.score end
    return a.member < b.member
  end)
  local out = {}
  for i = 1, math.min(limit, #all) do row(out, member_id(all[i].member), all[i].leased) end
  return out
elseif op == 'scheduled' then
  local limit, lane = argn(), arg()
  if limit <= 0 then return {} end
  local out = {}
  local due = first(K.schedule, lane, limit)
  for i = 1, #due, 2 do row(out, member_id(due[i]), due[i + 1]) end
  return out
elseif op == 'next_eta' then
  local head = redis.call('ZRANGE', K.schedule, 0, 0, 'WITHSCORES')
  return head[2]
elseif op == 'count' then
  local what, lane = arg(), arg()
  adopt_unlaned()
  if what == 'ready' then return redis.call('ZCARD', lane_key(K.ready, lane)) end
  if what == 'scheduled' then return redis.call('ZCARD', lane_key(K.schedule, lane)) end
  local n = 0
  for _, id in ipairs(redis.call('ZRANGE', K.leased, 0, -1)) do
    if lane_of(id) == lane then n = n + 1 end
  end
  return n
end
return redis.error_reply('unknown inspect op ' .. tostring(op))
