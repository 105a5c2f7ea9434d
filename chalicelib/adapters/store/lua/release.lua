-- release.lua: a running job's attempt failed and will be retried: back to queued, so that the
-- next claim (a redelivered lane message) takes it at once (no submit of it is pending: its
-- intent goes with its provider job, its progress with the attempt). Its charge stays until it ends.
-- KEYS: 1 generation hash, 2 poll zset.  ARGV: 1 generation id
-- Reply: 1, or 0 if the job was not running.
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued')
redis.call('HDEL', KEYS[1], 'lease_until', 'provider_job', 'submit_intent', 'progress')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
