-- Drop one dead letter and its count together, or neither.
-- KEYS[1] the dead-letter stream, KEYS[2] the dead-letter counts per channel.
-- ARGV: 1 the dead letter's id, 2 its channel.
-- Returns 1 when it was dropped, 0 when there was no such letter.
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
return 1
