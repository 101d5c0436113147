-- release: ARGV = unstarted ("1" or "0"), then (id, token) pairs. Held items are ready again at their
-- old place; unstarted ones (given back before they ran) do not count this lease towards maxLeases.
local unstarted = ARGV[1] == '1'
local n = 0
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if holds(id, ARGV[i + 1]) then
    unlease(id)
    if unstarted and tonumber(redis.call('HGET', K.leases, id) or '0') > 0 then redis.call('HINCRBY', K.leases, id, -1) end
    n = n + 1
  end
end
if n > 0 then wake(K.wake_queue) end
return n
