-- finish_followers.lua: end the next chunk of an ended job's followers (identical requests that
-- joined it), as finish.lua ended the first one: each gets the job's outcome, its waiter is woken
-- (a token on the job's ``ended:<id>``, which a follower's waiter blocks on) and its callback
-- scheduled. A chunk at a time, so that no call holds Redis for
-- long; the last one drops the list and the reaper's timer entry.
--
-- KEYS: 1 the job's hash, 2 its followers still to end, 3 followers timer zset, 4 callbacks zset
-- ARGV: 1 job id, 2 generation key prefix, 3 wake-up list prefix, 4 its ttl (s), 5 chunk size,
--       6 when callbacks are due (ms), 7 image holders key prefix, 8 its ttl (s)
-- Reply: {followers ended by this call, followers still to end, their batches (space-separated,
-- '' for none: as finish.lua, so that a batch whose last item joined this job ends with it)}

local job = redis.call('HMGET', KEYS[1], 'status', 'completed_at', 'images', 'provider', 'error_code',
                       'error_message')
local status = job[1]
if status ~= 'succeeded' and status ~= 'failed' then
  -- Not ended (or gone): nothing to hand on. Forget the timer; the list ages out.
  redis.call('ZREM', KEYS[3], ARGV[1])
  return {0, 0}
end
local result
if status == 'succeeded' then
  result = {'status', 'succeeded', 'completed_at', job[2] or '', 'images', job[3] or '', 'provider', job[4] or ''}
else
  result = {'status', 'failed', 'completed_at', job[2] or '', 'error_code', job[5] or '',
            'error_message', job[6] or '', 'provider', job[4] or ''}
end
local token = table.concat({status, job[2] or '', job[3] or '{}', job[4] or '', job[5] or '', job[6] or ''}, '\31')
local wake_prefix, wake_ttl, chunk = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local callback_due = tonumber(ARGV[6])

-- The same loop as finish.lua's first chunk.
local ended = 0
local tokens, held = {}, {}
local batches, seen = {}, {}
local batch = redis.call('LRANGE', KEYS[2], 0, chunk - 1)
for _, follower_id in ipairs(batch) do
  local key = ARGV[2] .. follower_id
  local follower = redis.call('HMGET', key, 'status', 'callback_url', 'batch')
  if follower[1] == 'queued' or follower[1] == 'running' then
    redis.call('HSET', key, unpack(result))
    ended = ended + 1
    tokens[ended] = token
    held[ended] = follower_id
    if follower[2] then redis.call('ZADD', KEYS[4], callback_due, follower_id) end
    if follower[3] and follower[3] ~= '' and not seen[follower[3]] then
      seen[follower[3]] = true
      batches[#batches + 1] = follower[3]
    end
  end
end
if ended > 0 and status == 'succeeded' then
  -- The followers hold the images too (see finish.lua): one SADD per image for the chunk.
  for object in string.gmatch(job[3] or '', '"[^"]*":"([^"]*)"') do
    redis.call('SADD', ARGV[7] .. object, unpack(held))
    redis.call('EXPIRE', ARGV[7] .. object, tonumber(ARGV[8]))
  end
end
if ended > 0 then
  local wake_key = wake_prefix .. ARGV[1]
  redis.call('RPUSH', wake_key, unpack(tokens))
  redis.call('EXPIRE', wake_key, wake_ttl)
end
redis.call('LTRIM', KEYS[2], chunk, -1)
local left = redis.call('LLEN', KEYS[2])
if left == 0 then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return {ended, left, table.concat(batches, ' ')}
