-- lease: ARGV = max, leaseUntil, token, then either "all" (every lane, paused or not) or
-- "lanes", now, turn, and the lanes to serve: a count (-1: every lane with ready items) and
-- (lane, cap) pairs, lanes sorted, caps at most max. Returns flat (id, name, priority, payload,
-- leases, lane) rows, highest priority first, FIFO within a priority.
-- The items of one pop are leased together: a few calls per hash for all of them (call_many).
local max = argn()
local until_ms = arg()
local token = arg()
local mode = arg()
if max <= 0 then return {} end

local taken = {}
-- Lease these members (all still ready): `lanes` is each one's lane, or one lane for all.
local function lease_members(members, lanes)
  local ids = {}
  for i, m in ipairs(members) do ids[i] = member_id(m) end
  local priorities = hmget_many(K.priority, ids)
  local counts = hmget_many(K.leases, ids)
  local scores, tokens, leases = {}, {}, {}
  for i, id in ipairs(ids) do
    local n = (tonumber(counts[i]) or 0) + 1
    scores[#scores + 1] = until_ms
    scores[#scores + 1] = id
    tokens[#tokens + 1] = id
    tokens[#tokens + 1] = token
    leases[#leases + 1] = id
    leases[#leases + 1] = n
    taken[#taken + 1] = { member = members[i], priority = priorities[i], score = tonumber(priorities[i]), id = id, leases = n,
                          lane = type(lanes) == 'table' and lanes[i] or lanes }
  end
  call_many('ZADD', K.leased, scores)
  call_many('HSET', K.token, tokens)
  call_many('HSET', K.leases, leases)
end

if mode == 'all' then
  -- ZPOPMIN returns member, score pairs in ready order.
  local popped = redis.call('ZPOPMIN', K.ready, max)
  local members, ids = {}, {}
  for i = 1, #popped, 2 do
    members[#members + 1] = popped[i]
    ids[#ids + 1] = member_id(popped[i])
  end
  local lanes = hmget_many(K.lane, ids)
  local per_lane = {}
  for i, m in ipairs(members) do
    local lane = lanes[i] or 'default'
    lanes[i] = lane
    per_lane[lane] = per_lane[lane] or {}
    table.insert(per_lane[lane], m)
  end
  for lane, list in pairs(per_lane) do call_many('ZREM', lane_key(K.ready, lane), list) end
  if #members > 0 then lease_members(members, lanes) end
else
  adopt_unlaned()
  local now, turn, count = argn(), argn(), argn()
  local wanted = {}
  if count >= 0 then
    for i = 1, count do wanted[i] = { lane = arg(), cap = argn() } end
  else
    local names = redis.call('SMEMBERS', K.lanes)
    table.sort(names)
    for _, lane in ipairs(names) do
      if redis.call('ZCARD', lane_key(K.ready, lane)) > 0 then
        wanted[#wanted + 1] = { lane = lane, cap = max }
      elseif redis.call('EXISTS', lane_key(K.schedule, lane)) == 0 then
        redis.call('SREM', K.lanes, lane) -- nothing of it left: forget it until it has items again
      end
    end
  end
  -- lanesToServe (../_lanes.ts): drop paused lanes and lanes with no room, rotate by `turn`.
  local served = {}
  for _, w in ipairs(wanted) do
    local p = redis.call('HGET', K.pauses, w.lane)
    local paused = p and (p == '' or tonumber(p) > now)
    if not paused and w.cap > 0 then served[#served + 1] = w end
  end
  local open = {}
  for i = 1, #served do open[i] = served[(i - 1 + turn) % #served + 1] end

  -- Up to n items of one lane in its order; a stale member (see lane_key), one no longer in the
  -- global ready set, is dropped, not counted.
  local function take(lane, n)
    local key, got = lane_key(K.ready, lane), 0
    while got < n do
      local popped = redis.call('ZPOPMIN', key, n - got)
      if #popped == 0 then break end
      local members = {}
      for i = 1, #popped, 2 do members[#members + 1] = popped[i] end
      local live = {}
      for i = 1, #members, CHUNK do
        local part = { unpack(members, i, math.min(i + CHUNK - 1, #members)) }
        local scores = redis.call('ZMSCORE', K.ready, unpack(part))
        for j = 1, #part do
          if scores[j] then live[#live + 1] = part[j] end
        end
      end
      if #live > 0 then
        call_many('ZREM', K.ready, live)
        lease_members(live, lane)
        got = got + #live
      end
    end
    return got
  end

  -- shareRounds (../_lanes.ts): in rounds, each lane still able to give gets an equal share of
  -- what is left (at most its cap); a lane that gives less than asked is empty and drops out.
  local total = 0
  while total < max and #open > 0 do
    local share = math.ceil((max - total) / #open)
    local next_open = {}
    for _, l in ipairs(open) do
      local n = math.min(share, l.cap, max - total)
      if n <= 0 then break end
      local got = take(l.lane, n)
      total = total + got
      l.cap = l.cap - got
      if got == n and l.cap > 0 then next_open[#next_open + 1] = l end
    end
    open = next_open
  end
  table.sort(taken, function(a, b)
    if a.score ~= b.score then return a.score > b.score end
    return a.member < b.member
  end)
end

local ids = {}
for i, t in ipairs(taken) do ids[i] = t.id end
local names = hmget_many(K.name, ids)
local payloads = hmget_many(K.payload, ids)
local out = {}
for i, t in ipairs(taken) do
  out[#out + 1] = t.id
  out[#out + 1] = names[i]
  out[#out + 1] = t.priority
  out[#out + 1] = payloads[i]
  out[#out + 1] = t.leases
  out[#out + 1] = t.lane
end
return out
