-- release_holder.lua: a holder lets go of images; the reply names those that no one holds now.
-- An image is named only when THIS call removed the last holder: an image whose holders were
-- never recorded (stored before holders existed) is never reported, so never deleted.
-- KEYS: the holders sets of the images. ARGV: 1 the holder.
local orphans = {}
for i, key in ipairs(KEYS) do
  if redis.call('SREM', key, ARGV[1]) == 1 and redis.call('SCARD', key) == 0 then
    orphans[#orphans + 1] = i
  end
end
return orphans
