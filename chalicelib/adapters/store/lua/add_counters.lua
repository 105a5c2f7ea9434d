-- add_counters.lua: add amounts to counters, each kept for its ttl, in one call.
-- KEYS: the counters. ARGV: per key, its amount then its ttl (s).
-- GET + SET rather than INCRBYFLOAT, as in finish.lua (the embedded Redis 6.2 corrupts its Lua
-- argument cache when a script replicates INCRBYFLOAT); %.17g keeps every bit of the double.
for i, key in ipairs(KEYS) do
  local total = (tonumber(redis.call('GET', key) or '0') or 0) + tonumber(ARGV[2 * i - 1])
  redis.call('SET', key, string.format('%.17g', total))
  redis.call('EXPIRE', key, tonumber(ARGV[2 * i]))
end
return #KEYS
