-- ws_forget.lua: drop a connection and every watch it had (a disconnect, or a 410 on a push).
-- KEYS: 1 connection hash, 2 the connection's watches (set of "topic watched").
-- ARGV: 1 connection id, 2 watchers prefix.  Reply: the number of watches dropped.
local entries = redis.call('SMEMBERS', KEYS[2])
for _, entry in ipairs(entries) do
  local gap = string.find(entry, ' ', 1, true)
  if gap then
    redis.call('SREM', ARGV[2] .. string.sub(entry, 1, gap - 1), ARGV[1] .. ' ' .. string.sub(entry, gap + 1))
  end
end
redis.call('DEL', KEYS[1], KEYS[2])
return #entries
