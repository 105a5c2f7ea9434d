-- audit_append.lua: append an event to the admin audit trail and keep only the newest ones.
-- KEYS: 1 the sequence counter, 2 the trail (a sorted set scored by sequence number)
-- ARGV: 1 the event as JSON, with the placeholder '"seq":0' where its number goes, 2 how many to keep
-- Reply: the event's sequence number.
local seq = redis.call('INCR', KEYS[1])
local doc = string.gsub(ARGV[1], '"seq":0', '"seq":' .. seq, 1)
redis.call('ZADD', KEYS[2], seq, doc)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
return seq
