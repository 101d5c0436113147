-- release: ARGV = (id, token) pairs. Held items are ready again at their old place.
local n = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  if holds(id, ARGV[i + 1]) then
    unlease(id)
    n = n + 1
  end
end
if n > 0 then wake(K.wake_queue) end
return n
