-- hold.lua: a holder serves these images (see release_holder.lua). KEYS: their holders sets.
-- ARGV: 1 the holder. No expiry: a pinned avatar is held for as long as it is chosen.
for _, key in ipairs(KEYS) do redis.call('SADD', key, ARGV[1]) end
return #KEYS
