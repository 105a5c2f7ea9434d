-- ws_connect.lua: record an authenticated WebSocket connection, replacing any earlier record
-- under the same id (and the watches it had: an id is never reused by API Gateway, but a
-- restarted local server may hand out one that a crashed process left behind).
-- KEYS: 1 connection hash, 2 the connection's watches (set of "topic watched").
-- ARGV: 1 ttl seconds, 2 connection id, 3 watchers prefix, then field/value pairs.
local entries = redis.call('SMEMBERS', KEYS[2])
for _, entry in ipairs(entries) do
  local gap = string.find(entry, ' ', 1, true)
  if gap then
    redis.call('SREM', ARGV[3] .. string.sub(entry, 1, gap - 1), ARGV[2] .. ' ' .. string.sub(entry, gap + 1))
  end
end
redis.call('DEL', KEYS[1], KEYS[2])
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
