-- Key-value entries. ARGV = op, then:
--   put key value | put_if_empty key value -> 1 or 0 | get key preserve("1"/"0") -> value
--   delete key -> 1 or 0 | delete_if key value -> 1 or 0 (only while the entry holds value)
--   delete_result id -> 1 or 0 | list prefix limit [after] -> flat (key, value), keys > after when given
--   count prefix -> n | has_task id -> 1 or 0
local op = arg()
if op == 'put' then
  put_data(arg(), arg())
  return 1
elseif op == 'put_if_empty' then
  local key, value = arg(), arg()
  if redis.call('HEXISTS', K.kv, key) == 1 then return 0 end
  put_data(key, value)
  return 1
elseif op == 'get' then
  local key, preserve = arg(), arg() == '1'
  local value = redis.call('HGET', K.kv, key)
  if value and not preserve then delete_data(key) end
  return value
elseif op == 'delete' then
  return delete_data(arg())
elseif op == 'delete_if' then
  local key, value = arg(), arg()
  if redis.call('HGET', K.kv, key) ~= value then return 0 end
  return delete_data(key)
elseif op == 'delete_result' then
  return delete_result(arg())
elseif op == 'list' then
  local prefix, limit, after = arg(), argn(), arg()
  -- Keys sort by their bytes; every key starting with `prefix` lies in [prefix, prefix .. 0xFF).
  local lo, hi = '-', '+'
  if prefix ~= '' then lo, hi = '[' .. prefix, '(' .. prefix .. '\255' end
  -- The caller passes `after` only when it is not below `prefix`: then it is the lower bound.
  if after then lo = '(' .. after end
  local out = {}
  for _, key in ipairs(redis.call('ZRANGE', K.kv_index, lo, hi, 'BYLEX', 'LIMIT', 0, limit)) do
    out[#out + 1] = key
    out[#out + 1] = redis.call('HGET', K.kv, key)
  end
  return out
elseif op == 'count' then
  local prefix = arg()
  if prefix == '' then return redis.call('ZCARD', K.kv_index) end
  return redis.call('ZLEXCOUNT', K.kv_index, '[' .. prefix, '(' .. prefix .. '\255')
elseif op == 'has_task' then
  return redis.call('HEXISTS', K.payload, arg())
end
return redis.error_reply('unknown data op ' .. tostring(op))
