-- finish.lua: end a job exactly once. Success fills the result cache; failure refunds every
-- quota counter the job was charged. Identical requests that joined the job end with it.
-- Counters are added in the same call so that they can never drift from jobs: the job's stats
-- only by the call that ends it (each job counts once), its spend by every call, even on a job
-- that had already ended or is unknown: a provider paid for a late result (the job reaped, or
-- ended by another run) still cost money the spend guard must see.
--
-- Waiters are woken without polling: the job's outcome is pushed to a short-lived list,
-- ``ended:<id>``, one token per waiter (the job's own request, and each follower), on which a
-- waiting request blocks (BLPOP). Followers are ended
-- a chunk at a time, so that no call holds Redis for long: the rest of the list is moved aside
-- (a new identical job may start a list of its own at once), ``finish_followers.lua`` goes on with
-- it, and a timer entry lets the reaper finish it if the caller dies.
--
-- KEYS: 1 generation hash, 2 cache hash, 3 in-flight claim, 4 followers list, 5 open jobs zset,
--       6 callbacks zset, 7 poll zset, 8 this job's followers still to end, 9 followers timer zset,
--       10 the job's watchers set, 11 its batch's watchers set (KEYS[10] again if none),
--       12 and 13 the similar-results index of the job's style and quality (admit.lua reads
--       it): its order (a zset of request hashes) and its words (a hash of request hash ->
--       'size|count| word word ... ')
-- ARGV: 1 generation id, 2 status (succeeded|failed), 3 completed_at, 4 images json,
--       5 provider, 6 error code, 7 error message, 8 cache ttl, 9 generation key prefix,
--       10 stats counter count C, then C triples (key, amount, ttl), then a spend counter
--       count S and S triples, then a count E of extra record fields (provider latency, cost)
--       and E (field, value) pairs, then the time (ms) at which callbacks are due, then the
--       wake-up list prefix, its ttl (s), the follower chunk size, when (ms) the reaper takes
--       over the followers left for later, the image holders key prefix and its ttl (s), then
--       for the similar-results index: the job's request hash, its prompt, its words
--       (domain/similarity.py), its size, the index's bound, the entry's score (ms) and its
--       maker's owner tag (a hash of the identity: admit.lua shows the prompt to its maker only)
-- A photo generation (its record has ``photo``) fills neither the cache nor the similar-results index.
-- Each generation that gets the images (the job, each follower) joins the holders set of every
-- image (``holders:<object key>``): erasing one of them deletes only images no one else holds.
-- A job erased while open (DELETE /v1/me: its record tombstoned with ``erased``) finishes into
-- nothing: its charge is refunded even on success, the cache is not filled, the similar-results
-- index does not learn its prompt, its followers (other callers) still get the result, and its
-- record is deleted; the reply's code is then 2.
-- Reply: {code, followers ended, followers still to end, batches, watcher...}; code -1 if unknown,
-- 0 if it had already ended, 1 if this call ended it; batches: the batches of the followers this
-- call ended, space-separated ('' for none: a batch item that joined a job outside its batch ends
-- here, and its batch may end with it); then, when it did, who watches the job (followers'
-- watchers included) or its batch ("<connection> <watched id>" each): its end is pushed to them
-- without another round trip.
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

local state = redis.call('HMGET', KEYS[1], 'status', 'erased', 'photo')
local current, erased = state[1], state[2] == '1'
-- A photo generation is the caller's alone: never in the result cache or the similar index.
local private = state[3] ~= false and state[3] ~= nil and state[3] ~= ''
if not current then return {-1, 0, 0} end
if current == 'succeeded' or current == 'failed' then return {0, 0, 0} end

local result
if status == 'succeeded' then
  result = {'status', 'succeeded', 'completed_at', ARGV[3], 'images', ARGV[4], 'provider', ARGV[5]}
  if not erased and not private then
    redis.call('HSET', KEYS[2], 'images', ARGV[4], 'provider', ARGV[5], 'completed_at', ARGV[3])
    redis.call('EXPIRE', KEYS[2], tonumber(ARGV[8]))
  end
else
  result = {'status', 'failed', 'completed_at', ARGV[3], 'error_code', ARGV[6],
            'error_message', ARGV[7], 'provider', ARGV[5]}
end
if status ~= 'succeeded' or erased then
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

local nextra_end = extra_base + 1 + 2 * nextra
local callback_due = tonumber(ARGV[nextra_end] or '0')
local wake_prefix = ARGV[nextra_end + 1]
local wake_ttl = tonumber(ARGV[nextra_end + 2])
local chunk = tonumber(ARGV[nextra_end + 3])
local reaper_at = tonumber(ARGV[nextra_end + 4])
local holders_prefix = ARGV[nextra_end + 5]
local holders_ttl = tonumber(ARGV[nextra_end + 6])
-- Makes generations holders of every image of a success: one SADD per image for them all
-- (a chunk of followers costs a few commands, not a few per follower).
local function hold(holders)
  if status ~= 'succeeded' or #holders == 0 then return end
  for object in string.gmatch(ARGV[4], '"[^"]*":"([^"]*)"') do
    redis.call('SADD', holders_prefix .. object, unpack(holders))
    redis.call('EXPIRE', holders_prefix .. object, holders_ttl)
  end
end
if not erased then hold({gen_id}) end
-- The similar-results index: the prompt stays in the cache hash with its maker's owner tag (the
-- prompt is shown with the result to that maker only); the
-- index holds the entry's words by its request hash, the newest `bound` entries only.
if status == 'succeeded' and not erased and not private and KEYS[13] and ARGV[nextra_end + 7] ~= '' then
  local member, words, n = ARGV[nextra_end + 7], ARGV[nextra_end + 9], 0
  for _ in string.gmatch(words, '%S+') do n = n + 1 end
  redis.call('HSET', KEYS[2], 'prompt', ARGV[nextra_end + 8], 'owner', ARGV[nextra_end + 13] or '')
  redis.call('ZADD', KEYS[12], tonumber(ARGV[nextra_end + 12]), member)
  redis.call('HSET', KEYS[13], member, ARGV[nextra_end + 10] .. '|' .. n .. '| ' .. words .. ' ')
  local bound = tonumber(ARGV[nextra_end + 11])
  local evicted = redis.call('ZRANGE', KEYS[12], 0, -1 - bound)
  if #evicted > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[12], 0, -1 - bound)
    redis.call('HDEL', KEYS[13], unpack(evicted))
  end
  redis.call('EXPIRE', KEYS[12], tonumber(ARGV[8]))
  redis.call('EXPIRE', KEYS[13], tonumber(ARGV[8]))
end
-- The wake-up token: what a waiter needs to end its own copy of the job, fields split by \31.
-- One per waiter: the job's own (a replayed request), then one per follower ended (below); a
-- follower's waiter blocks on its leader's list.
local token = table.concat({ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]}, '\31')
local wake_key = wake_prefix .. gen_id
redis.call('RPUSH', wake_key, token)

-- Up to `chunk` followers now (the same loop as finish_followers.lua: scripts cannot share code).
local ended, left = 0, 0
local batches, seen = {}, {}
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('RENAME', KEYS[4], KEYS[8])
  local batch = redis.call('LRANGE', KEYS[8], 0, chunk - 1)
  local tokens, held = {}, {}
  for _, follower_id in ipairs(batch) do
    local key = ARGV[9] .. follower_id
    local follower = redis.call('HMGET', key, 'status', 'callback_url', 'batch')
    if follower[1] == 'queued' or follower[1] == 'running' then
      redis.call('HSET', key, unpack(result))
      ended = ended + 1
      tokens[ended] = token
      held[ended] = follower_id
      if follower[2] then redis.call('ZADD', KEYS[6], callback_due, follower_id) end
      if follower[3] and follower[3] ~= '' and not seen[follower[3]] then
        seen[follower[3]] = true
        batches[#batches + 1] = follower[3]
      end
    end
  end
  if ended > 0 then redis.call('RPUSH', wake_key, unpack(tokens)) end
  hold(held)
  redis.call('LTRIM', KEYS[8], chunk, -1)
  left = redis.call('LLEN', KEYS[8])
  if left > 0 then
    redis.call('PEXPIRE', KEYS[8], 3600000)
    redis.call('ZADD', KEYS[9], reaper_at, gen_id)
  end
end
redis.call('EXPIRE', wake_key, wake_ttl)
if redis.call('GET', KEYS[3]) == gen_id then redis.call('DEL', KEYS[3]) end
redis.call('ZREM', KEYS[5], gen_id)
-- A job with a callback_url is scheduled for its callback in this same call, so that no ended
-- job misses it; a job polled in webhook mode needs no more polls.
if redis.call('HEXISTS', KEYS[1], 'callback_url') == 1 then
  redis.call('ZADD', KEYS[6], callback_due, gen_id)
end
redis.call('ZREM', KEYS[7], gen_id)

add_counters(11, ncounters)
if erased then
  -- Nothing of the erased caller stays; a record with followers still to end lives until
  -- finish_followers.lua has handed them the result (an hour at most, like their list).
  if left > 0 then redis.call('EXPIRE', KEYS[1], 3600) else redis.call('DEL', KEYS[1]) end
  return {2, ended, left, table.concat(batches, ' ')}
end
local reply = {1, ended, left, table.concat(batches, ' ')}
for _, watcher in ipairs(redis.call('SUNION', KEYS[10], KEYS[11])) do reply[#reply + 1] = watcher end
return reply
