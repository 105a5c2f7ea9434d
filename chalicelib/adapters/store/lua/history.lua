-- history.lua: one page of an identity's generations, newest first, in one call.
-- The cursor is (score, id) exclusive: members with the cursor's score sort by id descending,
-- so the ones at or above the cursor id were on the previous page.
-- KEYS: 1 history zset.  ARGV: 1 max score ('+inf' or a number), 2 cursor id ('' for none),
--       3 limit, 4 generation key prefix
-- Reply: {next_score, next_id, n, (field count, field, value, ...) x n}
local max_score = ARGV[1]
local cursor_id = ARGV[2]
local limit = tonumber(ARGV[3])
local prefix = ARGV[4]
local out = {}
local n = 0
local last_score, last_id = '', ''
local offset = 0
local more = false
while true do
  local batch = redis.call('ZREVRANGEBYSCORE', KEYS[1], max_score, '-inf', 'WITHSCORES', 'LIMIT', offset, 100)
  if #batch == 0 then break end
  offset = offset + #batch / 2
  for i = 1, #batch, 2 do
    local id, score = batch[i], batch[i + 1]
    local skip = cursor_id ~= '' and score == max_score and id >= cursor_id
    if not skip then
      local rec = redis.call('HGETALL', prefix .. id)
      if #rec > 0 then
        if n == limit then more = true break end
        n = n + 1
        out[#out + 1] = #rec
        for j = 1, #rec do out[#out + 1] = rec[j] end
        last_score, last_id = score, id
      end
    end
  end
  if more or #batch < 200 then break end
end
if not more then last_score, last_id = '', '' end
local reply = {last_score, last_id, n}
for i = 1, #out do reply[#reply + 1] = out[i] end
return reply
