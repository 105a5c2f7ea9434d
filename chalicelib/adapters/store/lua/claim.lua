-- claim.lua: take a job for running, exactly once per lease. A queued job is claimed; a running
-- job only when its lease has expired (its worker died) or when forced (restart recovery).
-- KEYS: 1 generation hash.  ARGV: 1 now_ms, 2 lease_ms, 3 force (1/0)
-- Reply: the record as field/value pairs, or an empty list when there is nothing to claim.
local state = redis.call('HMGET', KEYS[1], 'status', 'lease_until')
local status = state[1]
if not status then return {} end
local now_ms = tonumber(ARGV[1])
local expired = tonumber(state[2] or '0') <= now_ms
if status == 'queued' or (status == 'running' and (expired or ARGV[3] == '1')) then
  redis.call('HSET', KEYS[1], 'status', 'running', 'lease_until', now_ms + tonumber(ARGV[2]))
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  return redis.call('HGETALL', KEYS[1])
end
return {}
