-- lease: ARGV = max, leaseUntil, token, then either "all" (every lane, paused or not) or
-- "lanes", now, turn, and the lanes to serve: a count (-1: every lane with ready items) and
-- (lane, cap) pairs, lanes sorted, caps at most max. Returns flat (id, name, priority, payload,
-- leases, lane) rows, highest priority first, FIFO within a priority.
local max = argn()
local until_ms = arg()
local token = arg()
local mode = arg()
if max <= 0 then return {} end

local taken = {}
local function lease_member(member)
  local id = member_id(member)
  redis.call('ZADD', K.leased, until_ms, id)
  redis.call('HSET', K.token, id, token)
  taken[#taken + 1] = { member = member, score = tonumber(redis.call('HGET', K.priority, id)), id = id,
                        leases = redis.call('HINCRBY', K.leases, id, 1) }
end

if mode == 'all' then
  -- ZPOPMIN returns member, score pairs in ready order.
  local popped = redis.call('ZPOPMIN', K.ready, max)
  for i = 1, #popped, 2 do
    local member = popped[i]
    redis.call('ZREM', lane_key(K.ready, lane_of(member_id(member))), member)
    lease_member(member)
  end
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

  -- Up to n items of one lane in its order; a stale member (see lane_key) is dropped, not counted.
  local function take(lane, n)
    local key, got = lane_key(K.ready, lane), 0
    while got < n do
      local popped = redis.call('ZPOPMIN', key, n - got)
      if #popped == 0 then break end
      for i = 1, #popped, 2 do
        if redis.call('ZREM', K.ready, popped[i]) == 1 then
          lease_member(popped[i])
          got = got + 1
        end
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

local out = {}
for _, t in ipairs(taken) do
  out[#out + 1] = t.id
  out[#out + 1] = redis.call('HGET', K.name, t.id)
  out[#out + 1] = redis.call('HGET', K.priority, t.id)
  out[#out + 1] = redis.call('HGET', K.payload, t.id)
  out[#out + 1] = t.leases
  out[#out + 1] = lane_of(t.id)
end
return out
