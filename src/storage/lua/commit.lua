-- commit: ARGV = acks, results, enqueues, schedules, putData, deleteData; each a count and then
-- flat fields: ack (id, token), result (id, payload, expiresAt or ""), enqueue (id, name,
-- priority, payload), schedule (id, name, priority, payload, eta), put (key, value), delete (key).
-- Everything is checked before anything is written: a duplicate id applies nothing.

local function read_list(width)
  local list = {}
  for i = 1, argn() do
    local row = {}
    for j = 1, width do row[j] = arg() end
    list[i] = row
  end
  return list
end

local acks = read_list(2)
local results = read_list(3)
local enqueues = read_list(4)
local schedules = read_list(5)
local puts = read_list(2)
local deletes = read_list(1)

-- An acked item's id may be reused in the same batch (the item is gone once the ack applies).
local freed = {}
for _, a in ipairs(acks) do
  if holds(a[1], a[2]) then freed[a[1]] = true end
end
local seen = {}
local function check(rows)
  for _, r in ipairs(rows) do
    local id = r[1]
    if seen[id] or (not freed[id] and redis.call('HEXISTS', K.payload, id) == 1) then return id end
    seen[id] = true
  end
end
local dup = check(enqueues) or check(schedules)
if dup then return duplicate(dup) end

for id in pairs(freed) do
  redis.call('ZREM', K.leased, id)
  forget(id)
end
for _, r in ipairs(results) do put_result(r[1], r[2], r[3]) end
for _, r in ipairs(enqueues) do insert_ready(r[1], r[2], r[3], r[4]) end
for _, r in ipairs(schedules) do insert_scheduled(r[1], r[2], r[3], r[4], r[5]) end
for _, r in ipairs(puts) do put_data(r[1], r[2]) end
for _, r in ipairs(deletes) do delete_data(r[1]) end

if #enqueues + #schedules > 0 then wake(K.wake_queue) end
if #results > 0 then wake(K.wake_results) end
return 1
