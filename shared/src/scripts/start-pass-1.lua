-- Start a new delivery pass for a channel at a stream id (a replay with resend). Pass numbers
-- come from one counter per channel, which redrives draw from too, so no two passes share one.
-- KEYS[1] the channel's passes (hash: pass number -> first stream id, and the counter).
-- ARGV: 1 the first stream id of the pass.
-- Returns the new pass's number.
--! include layout
local pass = redis.call('HINCRBY', KEYS[1], PASSES.counter, 1)
redis.call('HSET', KEYS[1], pass, ARGV[1])
return pass
