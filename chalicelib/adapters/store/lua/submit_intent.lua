-- submit_intent.lua: a running job is about to be submitted to a provider's queue API (webhook
-- mode). Record the intent (when, and the hash of the callback secret its webhook URL carries)
-- before the call: should the worker die before it writes the provider's handle
-- (provider_job.lua), the webhook can still adopt the provider's job, and a redelivered lane
-- message waits for it for the provider's usual time instead of submitting at once.
-- KEYS: 1 generation hash.  ARGV: 1 intent (JSON)
-- Reply: 1, or 0 if the job is not running (it ended, or was released).
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'submit_intent', ARGV[1])
return 1
