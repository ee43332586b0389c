-- Remove a consumer from a group only if it still has nothing pending: checked and done in one
-- step, so entries handed to it in between are never dropped with it.
-- KEYS[1] the stream. ARGV: 1 group, 2 consumer.
-- Returns 1 when the consumer was removed, 0 when it had entries pending (or did not exist).
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #pending > 0 then return 0 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
