-- renew: ARGV = leaseUntil, then (id, token) pairs. Returns the ids whose lease is lost (not extended).
local until_ms = arg()
local lost = {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if holds(id, ARGV[i + 1]) then
    redis.call('ZADD', K.leased, 'XX', until_ms, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
