-- erase.lua: erase the next chunk of one identity's generations (DELETE /v1/me), atomically.
-- The identity's history sorted set lists every live record it owns (admit.lua keeps it so), so
-- erasure reads that set a chunk at a time: bounded calls, never a scan of the keyspace.
--
-- Per generation (only records whose owner is the identity: nothing of anyone else is touched):
-- - ended: its record and idempotency entry are deleted, and it leaves the holders set of each of
--   its images; an image it was the last holder of is named in the reply (the caller deletes the
--   object). An image held by another generation (a cache hit or a follower of another caller)
--   stays.
-- - open and following another job (joined an identical request): it leaves that job's followers
--   list and its record is deleted.
-- - open and running its own job: the record is tombstoned (owner cleared, ``erased`` set,
--   callback and batch dropped) so that finish.lua ends it into nothing (refunded, result
--   dropped, record deleted) while the worker that holds it can still finish it.
-- Each record's request also leaves the similar-results index of its style and quality (the
-- index holds the prompt's words; the caller erases the cache entry itself by the hash in the
-- reply), in the same call: ``sim:<style>:<quality>`` and ``simw:<style>:<quality>``, built here
-- from their prefixes (fine on a single-shard Redis as in finish.lua).
--
-- KEYS: 1 the identity's history zset, 2 callbacks zset
-- ARGV: 1 owner (identity key), 2 chunk size, 3 generation key prefix, 4 image holders key prefix,
--       5 followers key prefix ('followers:' keys: '<prefix><request hash>', '<prefix>of:<id>'),
--       6 similar index order key prefix ('sim:'), 7 similar index words key prefix ('simw:')
-- Reply: {erased, still listed, H, request hash x H, B, batch id x B, orphan object key...}

local owner, chunk = ARGV[1], tonumber(ARGV[2])
local gen_prefix, holders_prefix, followers_prefix = ARGV[3], ARGV[4], ARGV[5]
local sim_prefix, simw_prefix = ARGV[6], ARGV[7]
local ids = redis.call('ZRANGE', KEYS[1], 0, chunk - 1)
local hashes, seen_hash, batches, seen_batch, orphans = {}, {}, {}, {}, {}
local erased = 0

for _, id in ipairs(ids) do
  local key = gen_prefix .. id
  local rec = redis.call('HMGET', key, 'owner', 'status', 'request_hash', 'images', 'leader', 'idem', 'batch',
                        'style', 'quality', 'arm')
  if rec[1] == owner then
    local status, req_hash, images, leader, idem, batch = rec[2], rec[3], rec[4], rec[5], rec[6], rec[7]
    local style, quality = rec[8], rec[9]
    if idem and redis.call('GET', idem) and string.sub(redis.call('GET', idem), 1, #id + 1) == id .. '|' then
      redis.call('DEL', idem)
    end
    if req_hash and req_hash ~= '' and not seen_hash[req_hash] then
      seen_hash[req_hash] = true
      hashes[#hashes + 1] = req_hash
      if style and style ~= '' and quality and quality ~= '' then
        -- The index key's quality is the cache's (domain/generation.py cache_quality).
        if rec[10] == 'dev' then quality = quality .. '+dev' end
        local variant = style .. ':' .. quality
        redis.call('ZREM', sim_prefix .. variant, req_hash)
        redis.call('HDEL', simw_prefix .. variant, req_hash)
      end
    end
    if batch and batch ~= '' and not seen_batch[batch] then
      seen_batch[batch] = true
      batches[#batches + 1] = batch
    end
    if (status == 'queued' or status == 'running') and not (leader and leader ~= '') then
      redis.call('HSET', key, 'owner', '', 'erased', '1')
      redis.call('HDEL', key, 'callback_url', 'batch', 'idem')
    else
      if leader and leader ~= '' and (status == 'queued' or status == 'running') then
        redis.call('LREM', followers_prefix .. (req_hash or ''), 0, id)
        redis.call('LREM', followers_prefix .. 'of:' .. leader, 0, id)
      end
      for object in string.gmatch(images or '', '"[^"]*":"([^"]*)"') do
        local holders = holders_prefix .. object
        if redis.call('SREM', holders, id) == 1 and redis.call('SCARD', holders) == 0 then
          orphans[#orphans + 1] = object
        end
      end
      redis.call('DEL', key)
    end
    erased = erased + 1
  end
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end

local reply = {erased, redis.call('ZCARD', KEYS[1]), #hashes}
for _, h in ipairs(hashes) do reply[#reply + 1] = h end
reply[#reply + 1] = #batches
for _, b in ipairs(batches) do reply[#reply + 1] = b end
for _, o in ipairs(orphans) do reply[#reply + 1] = o end
return reply
