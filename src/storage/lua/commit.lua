-- commit: ARGV = acks, results, enqueues, schedules, putData, deleteData, then tasks, then the
-- short form of tasks (below); each list a
-- count and then flat fields: ack (id, token), result (id, payload, expiresAt or ""), enqueue
-- (id, name, priority, payload, lane), schedule (id, name, priority, payload, eta, lane), put (key, value),
-- delete (key). A task (a fenced write) is its lease's id and token followed by its own lists of
-- results, enqueues, schedules, puts, deletes and lock releases (key, owner).
-- Every fence is checked and every id is checked before anything is written: a duplicate id
-- applies nothing. A task whose token no longer holds its item writes nothing (its lock
-- releases excepted: each checks its owner). Returns the ids of those tasks.

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
local enqueues = read_list(5)
local schedules = read_list(6)
local puts = read_list(2)
local deletes = read_list(1)
local tasks = {}
for i = 1, argn() do
  local t = { id = arg(), token = arg() }
  t.results = read_list(3)
  t.enqueues = read_list(5)
  t.schedules = read_list(6)
  t.puts = read_list(2)
  t.deletes = read_list(1)
  t.locks = read_list(2)
  tasks[i] = t
end
-- The short form (see redis.ts): tasks that each store one result and nothing else, as flat
-- (id, token, result id, payload, expiresAt) fields, kept in parallel lists.
local s_id, s_token, s_rid, s_payload, s_exp = {}, {}, {}, {}, {}
for i = 1, argn() do
  s_id[i], s_token[i], s_rid[i], s_payload[i], s_exp[i] = arg(), arg(), arg(), arg(), arg()
end

-- The fences, against the store as it was before this script: the tokens of every task and ack
-- in one read.
local fenced = {}
for _, t in ipairs(tasks) do fenced[#fenced + 1] = t.id end
for _, a in ipairs(acks) do fenced[#fenced + 1] = a[1] end
for _, id in ipairs(s_id) do fenced[#fenced + 1] = id end
local tokens = hmget_many(K.token, fenced)
local held, lost = {}, {}
for i, t in ipairs(tasks) do
  if tokens[i] == t.token then held[#held + 1] = t else lost[#lost + 1] = t.id end
end

-- An acked item's id may be reused in the same batch (the item is gone once the ack applies).
local freed = {}
for i, a in ipairs(acks) do
  if tokens[#tasks + i] == a[2] then freed[a[1]] = true end
end
for _, t in ipairs(held) do freed[t.id] = true end
local s_held = {}
for i, id in ipairs(s_id) do
  if tokens[#tasks + #acks + i] == s_token[i] then
    s_held[i] = true
    freed[id] = true
  else
    lost[#lost + 1] = id
  end
end
-- Which of the ids to store are taken already: one HMGET for all of them.
local taken = {}
do
  local ids = {}
  local function gather(rows) for _, r in ipairs(rows) do ids[#ids + 1] = r[1] end end
  gather(enqueues)
  gather(schedules)
  for _, t in ipairs(held) do
    gather(t.enqueues)
    gather(t.schedules)
  end
  local stored_payloads = hmget_many(K.payload, ids)
  for i, id in ipairs(ids) do
    if stored_payloads[i] then taken[id] = true end
  end
end
local seen = {}
local function check(rows)
  for _, r in ipairs(rows) do
    local id = r[1]
    if seen[id] or (not freed[id] and taken[id]) then return id end
    seen[id] = true
  end
end
local dup = check(enqueues) or check(schedules)
for _, t in ipairs(held) do dup = dup or check(t.enqueues) or check(t.schedules) end
if dup then return duplicate(dup) end

local gone = {}
for id in pairs(freed) do gone[#gone + 1] = id end
if #gone > 0 then
  call_many('ZREM', K.leased, gone)
  forget_many(gone)
end
local queued, stored = #enqueues + #schedules, #results
-- Results are written together at the end (their own hashes: no other write reads them), each id's
-- last one winning as if written in turn.
local result_of, result_ids = {}, {}
local function apply(results, enqueues, schedules, puts, deletes)
  for _, r in ipairs(results) do
    if not result_of[r[1]] then result_ids[#result_ids + 1] = r[1] end
    result_of[r[1]] = r
  end
  insert_ready_many(enqueues)
  for _, r in ipairs(schedules) do insert_scheduled(r[1], r[2], r[3], r[4], r[5], r[6]) end
  for _, r in ipairs(puts) do put_data(r[1], r[2]) end
  for _, r in ipairs(deletes) do delete_data(r[1]) end
end
apply(results, enqueues, schedules, puts, deletes)
for _, t in ipairs(held) do
  apply(t.results, t.enqueues, t.schedules, t.puts, t.deletes)
  queued = queued + #t.enqueues + #t.schedules
  stored = stored + #t.results
end
for i = 1, #s_id do
  if s_held[i] then
    local id = s_rid[i]
    if not result_of[id] then result_ids[#result_ids + 1] = id end
    result_of[id] = { id, s_payload[i], s_exp[i] }
    stored = stored + 1
  end
end
if #result_ids > 0 then
  local pairs_, expiring, lasting = {}, {}, {}
  for _, id in ipairs(result_ids) do
    local r = result_of[id]
    pairs_[#pairs_ + 1] = id
    pairs_[#pairs_ + 1] = r[2]
    if r[3] == '' then
      lasting[#lasting + 1] = id
    else
      expiring[#expiring + 1] = r[3]
      expiring[#expiring + 1] = id
    end
  end
  call_many('HSET', K.results, pairs_)
  call_many('ZREM', K.results_exp, lasting)
  call_many('ZADD', K.results_exp, expiring)
end
for _, t in ipairs(tasks) do
  for _, l in ipairs(t.locks) do
    if redis.call('HGET', K.lock_owner, l[1]) == l[2] then
      redis.call('HDEL', K.lock_owner, l[1])
      redis.call('HDEL', K.lock_until, l[1])
    end
  end
end

if queued > 0 then wake(K.wake_queue) end
if stored > 0 then wake(K.wake_results) end
return lost
