-- statuses.lua: the status of each generation, in one round trip (batch counts).
-- KEYS: generation hashes.  Reply: one status per key ('' where the record is gone).
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HGET', KEYS[i], 'status') or ''
end
return out
