-- unheld.lua: which of these images no one holds. KEYS: their holders sets.
-- Reply: the 1-based positions of the keys whose set is empty (or absent).
local free = {}
for i, key in ipairs(KEYS) do
  if redis.call('SCARD', key) == 0 then free[#free + 1] = i end
end
return free
