-- Shared prelude: prepended to every script (see SCRIPTS in ../_redis-scripts.ts).
--
-- Every script gets the same KEYS, in the order of KEY_PARTS in ../_redis-scripts.ts, so that the
-- keys a script touches are declared (the per-lane sets aside, see lane_key). Items live in
-- per-queue hashes keyed by item id (payload, name, priority, member, leases, token, lane) rather
-- than one key per item: flush is one script and nothing is left behind.
--
-- Order of the ready set: score = -priority (exact for any double), and members are
-- "<16-digit seq><id>". Redis orders equal scores by member bytes, so equal priorities come out
-- in seq order: FIFO without packing priority and seq into one double (which would run out of
-- exact integers after 2^53 / priority range).

local K = {
  ready = KEYS[1],        -- ZSET member -> -priority: ready items, in lease order
  leased = KEYS[2],       -- ZSET id -> leased_until (epoch ms)
  schedule = KEYS[3],     -- ZSET member -> eta (epoch ms); equal etas in seq order
  payload = KEYS[4],      -- HASH id -> payload; an id here is queued, leased or scheduled
  name = KEYS[5],         -- HASH id -> task name
  priority = KEYS[6],     -- HASH id -> priority, as the caller wrote it
  member = KEYS[7],       -- HASH id -> its member in ready/schedule
  leases = KEYS[8],       -- HASH id -> how many times it was leased
  token = KEYS[9],        -- HASH id -> token of the current lease (absent when not leased)
  seq = KEYS[10],         -- STRING: INCR counter for members
  results = KEYS[11],     -- HASH id -> result payload
  results_exp = KEYS[12], -- ZSET id -> expiresAt, for results that expire
  kv = KEYS[13],          -- HASH key -> value
  kv_index = KEYS[14],    -- ZSET key -> 0: the kv keys, for prefix listing with ZRANGE BYLEX
  counters = KEYS[15],    -- HASH key -> value
  counters_exp = KEYS[16],-- HASH key -> expiresAt
  lock_owner = KEYS[17],  -- HASH key -> owner
  lock_until = KEYS[18],  -- HASH key -> until
  lane = KEYS[19],        -- HASH id -> its lane (the task option `queue`); absent: "default"
  lanes = KEYS[20],       -- SET: lanes that may have per-lane sets (see lane_key)
  pauses = KEYS[21],      -- HASH lane -> paused until (epoch ms), or "" until resumed
  wake_queue = KEYS[22],  -- pub/sub channel names (not keys; passed here to keep them in one place)
  wake_results = KEYS[23],
  lock_fence = KEYS[24],  -- HASH key -> last fence handed out; never deleted (not by flush either)
}

-- Per lane, `<ready>:<lane>` and `<schedule>:<lane>` hold the same members and scores as ready
-- and schedule, for that lane's items: an index, so a lease of one lane never walks another's.
-- These keys are derived, not declared in KEYS (standalone Redis only, as the client already is);
-- flush finds them through K.lanes. The global sets are the truth: a member of a lane set that
-- is not in its global set (left by a bun-huey that predates lanes) is stale and skipped.
local function lane_key(base, lane)
  return base .. ':' .. lane
end

-- ARGV is read in order through a cursor, so lists of any length can be passed flat.
local argi = 0
local function arg()
  argi = argi + 1
  return ARGV[argi]
end
local function argn()
  return tonumber(arg())
end

-- A command applied to many arguments in one call, in chunks (Lua's unpack takes at most ~8,000
-- values): one redis.call costs about as much as the work it does for one element, so a lease or
-- commit of hundreds of items makes a few calls per hash, not a few per item. `list` is the flat
-- arguments after the key (pairs stay whole: the chunk size is even).
local CHUNK = 1000
local function call_many(cmd, key, list)
  for i = 1, #list, CHUNK do
    redis.call(cmd, key, unpack(list, i, math.min(i + CHUNK - 1, #list)))
  end
end

-- HMGET of many fields; the values in field order (false for a missing one).
local function hmget_many(key, fields)
  local out = {}
  for i = 1, #fields, CHUNK do
    local part = redis.call('HMGET', key, unpack(fields, i, math.min(i + CHUNK - 1, #fields)))
    for j = 1, #part do out[#out + 1] = part[j] end
  end
  return out
end

local function new_member(id)
  -- %016d stays exact: seq is an integer far below 2^53.
  return string.format('%016d', redis.call('INCR', K.seq)) .. id
end

local function member_id(member)
  return string.sub(member, 17)
end

local function lane_of(id)
  return redis.call('HGET', K.lane, id) or 'default'
end

local function make_ready(id, member)
  local score = -tonumber(redis.call('HGET', K.priority, id))
  local lane = lane_of(id)
  redis.call('ZADD', K.ready, score, member)
  redis.call('ZADD', lane_key(K.ready, lane), score, member)
  redis.call('SADD', K.lanes, lane)
end

-- Take a member out of ready / the schedule, and out of its lane's set.
local function unready(id, member)
  redis.call('ZREM', lane_key(K.ready, lane_of(id)), member)
  return redis.call('ZREM', K.ready, member)
end

local function unschedule(id, member)
  redis.call('ZREM', lane_key(K.schedule, lane_of(id)), member)
  return redis.call('ZREM', K.schedule, member)
end

-- Items stored before lanes (or by an older bun-huey) have no lane: they are in "default" and
-- join its sets here, once. Cheap when there are none: two HLEN.
local function adopt_unlaned()
  if redis.call('HLEN', K.lane) == redis.call('HLEN', K.payload) then return end
  for _, id in ipairs(redis.call('HKEYS', K.payload)) do
    if redis.call('HEXISTS', K.lane, id) == 0 then
      redis.call('HSET', K.lane, id, 'default')
      local member = redis.call('HGET', K.member, id)
      local score = redis.call('ZSCORE', K.ready, member)
      if score then redis.call('ZADD', lane_key(K.ready, 'default'), score, member) end
      local eta = redis.call('ZSCORE', K.schedule, member)
      if eta then redis.call('ZADD', lane_key(K.schedule, 'default'), eta, member) end
      redis.call('SADD', K.lanes, 'default')
    end
  end
end

local function store(id, name, priority, payload, lane)
  local member = new_member(id)
  redis.call('HSET', K.lane, id, lane)
  redis.call('HSET', K.payload, id, payload)
  redis.call('HSET', K.name, id, name)
  redis.call('HSET', K.priority, id, priority)
  redis.call('HSET', K.member, id, member)
  redis.call('HSET', K.leases, id, 0)
  redis.call('HDEL', K.token, id)
  return member
end

-- insert_ready() of many (id, name, priority, payload, lane) rows, in order: their members take the
-- next seqs in row order (one INCRBY), and each hash, set and lane set gets one call per chunk.
local function insert_ready_many(rows)
  local n = #rows
  if n == 0 then return end
  local first = redis.call('INCRBY', K.seq, n) - n
  local ids, lanes, payloads, names, priorities, members, leases, ready = {}, {}, {}, {}, {}, {}, {}, {}
  local per_lane, lane_list = {}, {}
  for i, r in ipairs(rows) do
    local id, lane = r[1], r[5]
    local member = string.format('%016d', first + i) .. id
    local score = -tonumber(r[3])
    ids[i] = id
    lanes[#lanes + 1] = id
    lanes[#lanes + 1] = lane
    payloads[#payloads + 1] = id
    payloads[#payloads + 1] = r[4]
    names[#names + 1] = id
    names[#names + 1] = r[2]
    priorities[#priorities + 1] = id
    priorities[#priorities + 1] = r[3]
    members[#members + 1] = id
    members[#members + 1] = member
    leases[#leases + 1] = id
    leases[#leases + 1] = 0
    ready[#ready + 1] = score
    ready[#ready + 1] = member
    local l = per_lane[lane]
    if not l then
      l = {}
      per_lane[lane] = l
      lane_list[#lane_list + 1] = lane
    end
    l[#l + 1] = score
    l[#l + 1] = member
  end
  call_many('HSET', K.lane, lanes)
  call_many('HSET', K.payload, payloads)
  call_many('HSET', K.name, names)
  call_many('HSET', K.priority, priorities)
  call_many('HSET', K.member, members)
  call_many('HSET', K.leases, leases)
  call_many('HDEL', K.token, ids)
  call_many('ZADD', K.ready, ready)
  for _, lane in ipairs(lane_list) do call_many('ZADD', lane_key(K.ready, lane), per_lane[lane]) end
  call_many('SADD', K.lanes, lane_list)
end

local function insert_ready(id, name, priority, payload, lane)
  insert_ready_many({ { id, name, priority, payload, lane } })
end

local function insert_scheduled(id, name, priority, payload, eta, lane)
  local member = store(id, name, priority, payload, lane)
  redis.call('ZADD', K.schedule, eta, member)
  redis.call('ZADD', lane_key(K.schedule, lane), eta, member)
  redis.call('SADD', K.lanes, lane)
end

-- Drop every field of these items (not their set members): one HDEL per hash (per chunk).
local function forget_many(ids)
  if #ids == 0 then return end
  for _, key in ipairs({ K.payload, K.name, K.priority, K.member, K.leases, K.token, K.lane }) do
    call_many('HDEL', key, ids)
  end
end

local function forget(id)
  forget_many({ id })
end

-- True when `id` is leased under `token`.
local function holds(id, token)
  return redis.call('HGET', K.token, id) == token
end

-- Take a leased item back to ready, at the place its member gives it.
local function unlease(id)
  redis.call('HDEL', K.token, id)
  redis.call('ZREM', K.leased, id)
  make_ready(id, redis.call('HGET', K.member, id))
end

local function wake(channel)
  redis.call('PUBLISH', channel, '')
end

local function put_data(key, value)
  redis.call('HSET', K.kv, key, value)
  redis.call('ZADD', K.kv_index, 0, key)
end

local function delete_data(key)
  redis.call('ZREM', K.kv_index, key)
  return redis.call('HDEL', K.kv, key)
end

local function delete_result(id)
  redis.call('ZREM', K.results_exp, id)
  return redis.call('HDEL', K.results, id)
end

-- The error the client maps to "a task with this id is already queued or scheduled".
local function duplicate(id)
  return redis.error_reply('HUEY_DUPLICATE ' .. id)
end

-- Script bodies follow.
