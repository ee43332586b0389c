-- Append a notification once per id: the idempotency check and the XADD are one atomic step,
-- so 50 concurrent requests with one id append exactly one entry.
-- KEYS[1] the stream, KEYS[2] the notification's record hash (same hash tag as the stream).
-- ARGV: 1 fingerprint, 2 now (epoch ms), 3 idempotency TTL (ms), 4 record TTL (s),
--       5 stream MAXLEN (approximate), 6 userId, 7 type, 8.. the entry's fields and values.
-- Returns {'accepted', streamId} | {'duplicate', streamId} | {'mismatch', streamId}.
local seen = redis.call('HMGET', KEYS[2], 'fp', 'iu', 'sid')
if seen[1] and seen[2] and seen[3] and tonumber(seen[2]) > tonumber(ARGV[2]) then
  if seen[1] == ARGV[1] then
    return {'duplicate', seen[3]}
  end
  return {'mismatch', seen[3]}
end
local sid = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', unpack(ARGV, 8))
-- Past the idempotency window the id names a new notification: earlier status and claims go.
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'fp', ARGV[1], 'iu', tonumber(ARGV[2]) + tonumber(ARGV[3]), 'sid', sid,
  'uid', ARGV[6], 'type', ARGV[7], 'ts', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return {'accepted', sid}
