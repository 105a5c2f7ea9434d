-- ws_watch.lua: a connection watches a topic (a generation or a batch), atomically with the
-- checks: the connection is known, the generation is its owner's, at most LIMIT watched ids.
-- A generation that joined an identical job in flight (a follower, still open) is watched
-- through its leader's topic: the leader's changes are the follower's.
-- KEYS: 1 connection hash, 2 the connection's watches (set of "topic watched"),
--       3 the generation hash to check (with ARGV[6] == '1'; any key otherwise).
-- ARGV: 1 connection id, 2 the id asked for, 3 limit, 4 ttl seconds (at most the connection's),
--       5 watchers prefix, 6 '1' to check and read the generation, '0' for a checked topic.
-- Reply: {'ok', field, value, ...} (the generation's hash when checked), or {'unknown_connection'},
--        {'not_found'}, {'too_many'}.
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return {'unknown_connection'} end
local asked = ARGV[2]
local topic = asked
if ARGV[6] == '1' then
  local record = redis.call('HMGET', KEYS[3], 'owner', 'status', 'leader')
  if record[1] ~= owner then return {'not_found'} end
  if record[3] and (record[2] == 'queued' or record[2] == 'running') then topic = record[3] end
end
local entry = topic .. ' ' .. asked
if redis.call('SISMEMBER', KEYS[2], entry) == 0 then
  if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then return {'too_many'} end
  redis.call('SADD', KEYS[2], entry)
end
local ttl = tonumber(ARGV[4])
local left = redis.call('TTL', KEYS[1])
if left > 0 and left < ttl then ttl = left end
redis.call('EXPIRE', KEYS[2], ttl)
local watchers = ARGV[5] .. topic
redis.call('SADD', watchers, ARGV[1] .. ' ' .. asked)
if redis.call('TTL', watchers) < ttl then redis.call('EXPIRE', watchers, ttl) end
local out = {'ok'}
if ARGV[6] == '1' then
  for _, value in ipairs(redis.call('HGETALL', KEYS[3])) do out[#out + 1] = value end
end
return out
