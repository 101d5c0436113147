-- getResult: ARGV = id, preserve ("1" or "0"), now. Expired results read as missing and are
-- dropped, together with up to 100 other results that expired by `now`: expiry is judged by
-- the caller's clock, so Redis TTLs (server clock) cannot do it.
local id, preserve, now = arg(), arg() == '1', arg()
local expired = redis.call('ZRANGE', K.results_exp, '-inf', now, 'BYSCORE', 'LIMIT', 0, 100)
for _, old in ipairs(expired) do delete_result(old) end
local exp = redis.call('ZSCORE', K.results_exp, id)
if exp and tonumber(exp) <= tonumber(now) then
  delete_result(id)
  return false
end
local payload = redis.call('HGET', K.results, id)
if payload and not preserve then delete_result(id) end
return payload
