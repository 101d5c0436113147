-- renew: ARGV = leaseUntil, then (id, token) pairs. Returns how many leases were extended.
local until_ms = arg()
local n = 0
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if holds(id, ARGV[i + 1]) then
    redis.call('ZADD', K.leased, 'XX', until_ms, id)
    n = n + 1
  end
end
return n
