-- reclaimExpired: ARGV = now. Leases that ran out before `now` (strictly) become ready again.
local expired = redis.call('ZRANGE', K.leased, '-inf', '(' .. arg(), 'BYSCORE')
for _, id in ipairs(expired) do unlease(id) end
if #expired > 0 then wake(K.wake_queue) end
return #expired
