-- provider_job.lua: a running job was handed to a provider's queue API (webhook mode). Keep the
-- provider's job handle on the record, hold the claim for as long as the provider may take (a
-- redelivered lane message must not submit it twice), and schedule the polling fallback.
-- KEYS: 1 generation hash, 2 poll zset.  ARGV: 1 job handle (JSON), 2 lease_until_ms,
--       3 poll_at_ms, 4 generation id
-- Reply: 1, or 0 if the job is not running.
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'provider_job', ARGV[1], 'lease_until', ARGV[2])
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[4])
return 1
