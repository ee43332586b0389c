#!lua
-- Redrive one dead letter, atomically: take it off the dead-letter stream (so redriving twice
-- cannot deliver twice), start a new delivery pass for its notification on its channel, set
-- that channel's status back to pending, and append the notification again for that channel only.
-- KEYS[1] the dead-letter stream, KEYS[2] the dead-letter counts, KEYS[3] the notification's
-- record, KEYS[4] the stream, KEYS[5] the channel's passes.
-- ARGV: 1 dead letter id, 2 channel, 3 now (ms), 4 stream MAXLEN, 5 record TTL (s),
--       6.. the entry's fields and values to append (channels already narrowed).
-- Returns the new entry's stream id; 'delivered' when the channel was delivered meanwhile (a
-- replay mended it: the letter goes, nothing is appended); false when there is no such letter.
--! include layout
--! include channel-status
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then
  return false
end
redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
local statusField = PREFIX.status .. ARGV[2]
local current = decodeStatus(redis.call('HGET', KEYS[3], statusField))
if current and current[STATUS.state] == STATE.delivered then return STATE.delivered end
-- A new pass from the channel's one counter, shared with replays, so numbers never collide.
local pass = redis.call('HINCRBY', KEYS[5], PASSES.counter, 1)
redis.call('HSET', KEYS[3], PREFIX.redrivePass .. ARGV[2], pass, statusField, encodeStatus(STATE.pending, 0, tonumber(ARGV[3]), pass))
local id = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 6))
if redis.call('TTL', KEYS[3]) < tonumber(ARGV[5]) then
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
return id
