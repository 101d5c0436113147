-- locate: ARGV = id. Returns (where, name, priority, payload, leases, leased_until or eta, lane), or nil when
-- the id is not queued, leased or scheduled. Hash and sorted-set reads of one id: no scan.
local id = arg()
local payload = redis.call('HGET', K.payload, id)
if not payload then return false end
local name = redis.call('HGET', K.name, id)
local priority = redis.call('HGET', K.priority, id)
local leases = redis.call('HGET', K.leases, id) or '0'
local lane = lane_of(id)
local leased_until = redis.call('ZSCORE', K.leased, id)
if leased_until then return { 'leased', name, priority, payload, leases, leased_until, lane } end
local eta = redis.call('ZSCORE', K.schedule, redis.call('HGET', K.member, id))
if eta then return { 'scheduled', name, priority, payload, '0', eta, lane } end
return { 'ready', name, priority, payload, leases, '', lane }
