-- ws_progress.lua: record a running job's phase and answer who watches it, in one round trip.
-- The record is written only while that attempt runs: a late report of an earlier attempt, or
-- of a job that has ended (or expired), changes nothing.
-- KEYS: 1 generation hash, 2 its watchers, 3 its batch's watchers (KEYS[2] again if none).
-- ARGV: 1 the attempt, 2 the progress record (JSON).
-- Reply: the watchers of both sets ("connection watched" each).
local state = redis.call('HMGET', KEYS[1], 'status', 'attempts')
if state[1] == 'running' and tonumber(state[2] or '0') == tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'progress', ARGV[2])
end
return redis.call('SUNION', KEYS[2], KEYS[3])
