-- finish.lua: end a job exactly once. Success fills the result cache; failure refunds every
-- quota counter the job was charged. Identical requests that joined the job end with it.
-- Counters are added in the same call so that they can never drift from jobs: the job's stats
-- only by the call that ends it (each job counts once), its spend by every call, even on a job
-- that had already ended or is unknown: a provider paid for a late result (the job reaped, or
-- ended by another run) still cost money the spend guard must see.
--
-- KEYS: 1 generation hash, 2 cache hash, 3 in-flight claim, 4 followers list, 5 open jobs zset,
--       6 callbacks zset and 7 poll zset (both optional: see the end of the script)
-- ARGV: 1 generation id, 2 status (succeeded|failed), 3 completed_at, 4 images json,
--       5 provider, 6 error code, 7 error message, 8 cache ttl, 9 generation key prefix,
--       10 stats counter count C, then C triples (key, amount, ttl), then a spend counter
--       count S and S triples, then a count E of extra record fields (provider latency, cost)
--       and E (field, value) pairs, then the time (ms) at which callbacks are due
-- Reply: -1 if unknown, 0 if it had already ended, else 1 + the number of followers ended.
-- Follower hashes are addressed by prefix + id: they are not known before the script reads
-- the followers list (fine on a single-shard Redis such as Upstash or the embedded one).

-- Adds the n (key, amount, ttl) triples of ARGV that start at index base.
local function add_counters(base, n)
  for i = 0, n - 1 do
    local key = ARGV[base + 3 * i]
    -- Not INCRBYFLOAT: Redis 6.2 rewrites its argv for replication, which corrupts the Lua
    -- argument cache of the embedded server (later scripts crash it). GET + SET is the same
    -- thing inside an atomic script; %.17g keeps every bit of the double.
    local total = (tonumber(redis.call('GET', key) or '0') or 0) + tonumber(ARGV[base + 1 + 3 * i])
    redis.call('SET', key, string.format('%.17g', total))
    redis.call('EXPIRE', key, tonumber(ARGV[base + 2 + 3 * i]))
  end
end

local gen_id = ARGV[1]
local status = ARGV[2]
local ncounters = tonumber(ARGV[10] or '0')
local spend_base = 11 + 3 * ncounters
local nspend = tonumber(ARGV[spend_base] or '0')
local extra_base = spend_base + 1 + 3 * nspend
add_counters(spend_base + 1, nspend)  -- before any early return: paid is paid

local current = redis.call('HGET', KEYS[1], 'status')
if not current then return -1 end
if current == 'succeeded' or current == 'failed' then return 0 end

local result
if status == 'succeeded' then
  result = {'status', 'succeeded', 'completed_at', ARGV[3], 'images', ARGV[4], 'provider', ARGV[5]}
  redis.call('HSET', KEYS[2], 'images', ARGV[4], 'provider', ARGV[5], 'completed_at', ARGV[3])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[8]))
else
  result = {'status', 'failed', 'completed_at', ARGV[3], 'error_code', ARGV[6],
            'error_message', ARGV[7], 'provider', ARGV[5]}
  local charged = redis.call('HGET', KEYS[1], 'charged')
  if charged and charged ~= '' then
    for key in string.gmatch(charged, '%S+') do
      if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
    end
    redis.call('HSET', KEYS[1], 'charged', '', 'refunded', '1')
  end
end
redis.call('HSET', KEYS[1], unpack(result))
redis.call('HDEL', KEYS[1], 'lease_until')
local nextra = tonumber(ARGV[extra_base] or '0')
for i = 0, nextra - 1 do
  redis.call('HSET', KEYS[1], ARGV[extra_base + 1 + 2 * i], ARGV[extra_base + 2 + 2 * i])
end

local followers = redis.call('LRANGE', KEYS[4], 0, -1)
local ended = 1
for _, follower_id in ipairs(followers) do
  local key = ARGV[9] .. follower_id
  local fstatus = redis.call('HGET', key, 'status')
  if fstatus == 'queued' or fstatus == 'running' then
    redis.call('HSET', key, unpack(result))
    ended = ended + 1
    if KEYS[6] and redis.call('HEXISTS', key, 'callback_url') == 1 then
      redis.call('ZADD', KEYS[6], tonumber(ARGV[extra_base + 1 + 2 * nextra] or '0'), follower_id)
    end
  end
end
redis.call('DEL', KEYS[4])
if redis.call('GET', KEYS[3]) == gen_id then redis.call('DEL', KEYS[3]) end
redis.call('ZREM', KEYS[5], gen_id)
-- A job (or follower) with a callback_url is scheduled for its callback in this same call, so that
-- no ended job misses it; a job polled in webhook mode needs no more polls.
if KEYS[6] and redis.call('HEXISTS', KEYS[1], 'callback_url') == 1 then
  redis.call('ZADD', KEYS[6], tonumber(ARGV[extra_base + 1 + 2 * nextra] or '0'), gen_id)
end
if KEYS[7] then redis.call('ZREM', KEYS[7], gen_id) end

add_counters(11, ncounters)
return ended
