-- breaker.lua: the circuit breakers of the image providers, shared by every Lambda.
-- Plain Lua 5.1 and Redis 6.2 commands (GET, SET, PEXPIRE, DEL): runs unchanged on Upstash.
--
-- One string per provider (read back for every candidate at once with a plain MGET):
--   "failures|open_until|cooldown|cooling_until|trial_until|reason"  (times in ms)
--   failures       consecutive failures since the last success
--   open_until     0 = closed; > now = open; <= now = half-open (one trial call may go through)
--   cooldown       the length of the last open period caused by failures (doubles per failed trial)
--   cooling_until  a throttle (Retry-After): skip the provider until then
--   trial_until    the lease of the half-open trial call that one caller holds
--   reason         the error kind that last opened or cooled the breaker
-- Short commands only (at most three arguments each): they also stay safe on a Redis 6.2 whose
-- Lua argument cache was corrupted by a script running INCRBYFLOAT (see finish.lua).
--
-- KEYS[1]: the breaker. ARGV[1] is the operation:
--   claim   ARGV: 2 now_ms, 3 lease_ms, 4 memory_ms.
--           Reply: 1 if the caller may call the provider now (closed, or it took the single trial
--           of a half-open breaker), else 0 (open, cooling, or another caller holds the trial).
--   record  ARGV: 2 now_ms, 3 outcome (success|failure|throttled|auth|neutral), 4 retry_after_ms,
--           5 failure threshold, 6 base cool-down ms, 7 max cool-down ms, 8 auth open ms,
--           9 max cooling ms, 10 memory ms, 11 error kind.
--           Reply: the breaker after the update, in the stored format.

local key = KEYS[1]
local op = ARGV[1]

local function num(value)
  return tonumber(value or '0') or 0
end

local function int(value)
  return string.format('%.0f', value)  -- no '1.7e+12' for a time in ms
end

local now = num(ARGV[2])
local failures, open_until, cooldown, cooling_until, trial_until, reason = 0, 0, 0, 0, 0, ''
local stored = redis.call('GET', key)
if stored then
  local f, o, c, cl, t, r = string.match(stored, '^(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(.*)$')
  if f then  -- anything unreadable counts as a fresh breaker
    failures, open_until, cooldown = num(f), num(o), num(c)
    cooling_until, trial_until, reason = num(cl), num(t), r
  end
end

local function encode()
  return table.concat({int(failures), int(open_until), int(cooldown), int(cooling_until),
    int(trial_until), reason}, '|')
end

local function save(memory_ms)
  if failures == 0 and open_until == 0 and trial_until == 0 and cooling_until <= now then
    redis.call('DEL', key)  -- a healthy provider costs nothing to keep
    return
  end
  redis.call('SET', key, encode())
  local last = math.max(open_until, cooling_until, trial_until, now)
  redis.call('PEXPIRE', key, int(last - now + memory_ms))
end

if op == 'claim' then
  if cooling_until > now then return 0 end
  if open_until == 0 then return 1 end
  if open_until > now or trial_until > now then return 0 end
  trial_until = now + num(ARGV[3])
  save(num(ARGV[4]))
  return 1
end

if op ~= 'record' then
  return redis.error_reply('breaker: unknown operation')
end

local outcome = ARGV[3]
local retry_ms = num(ARGV[4])
local threshold = math.max(1, num(ARGV[5]))
local base = num(ARGV[6])
local max_cooldown = math.max(base, num(ARGV[7]))
local auth_ms = num(ARGV[8])
local max_cooling = num(ARGV[9])
local memory_ms = num(ARGV[10])
local kind = string.gsub(ARGV[11] or '', '[^%w_]', '')
local half_open = open_until > 0 and open_until <= now

if outcome == 'success' then
  failures, open_until, cooldown, trial_until, reason = 0, 0, 0, 0, ''
elseif outcome == 'failure' then
  failures = failures + 1
  trial_until = 0
  if half_open then
    -- The trial failed: open again, for twice as long as last time (up to the maximum).
    cooldown = math.min(max_cooldown, math.max(base, cooldown * 2))
    open_until = now + cooldown
    reason = kind
  elseif open_until == 0 and failures >= threshold then
    cooldown = base
    open_until = now + base
    reason = kind
  end
  -- Already open (a late report from another caller): the open period stays as it is.
elseif outcome == 'throttled' then
  cooling_until = math.max(cooling_until, now + math.min(retry_ms, max_cooling))
  trial_until = 0
  reason = kind
elseif outcome == 'auth' then
  failures = failures + 1
  open_until = math.max(open_until, now + auth_ms)
  trial_until = 0
  reason = 'auth'
elseif outcome == 'neutral' then
  trial_until = 0  -- a trial that proved nothing: let the next caller try
else
  return redis.error_reply('breaker: unknown outcome')
end

save(memory_ms)
return encode()
