-- promoteDue: ARGV = now, limit. Moves up to `limit` items with eta <= now to ready, earliest
-- first, in their lanes; each takes a new seq, so it queues behind work already ready at its priority.
local due = redis.call('ZRANGE', K.schedule, '-inf', arg(), 'BYSCORE', 'LIMIT', 0, argn())
for _, member in ipairs(due) do
  local id = member_id(member)
  local fresh = new_member(id)
  unschedule(id, member)
  redis.call('HSET', K.member, id, fresh)
  make_ready(id, fresh)
end
if #due > 0 then wake(K.wake_queue) end
return #due
