-- Append notifications, each once per id: the idempotency check and the XADD are one atomic
-- step, so 50 concurrent requests with one id append exactly one entry. One call per request
-- (a batch of up to 500, or a single notification): per notification it costs the hash and
-- stream commands, not a script call of its own.
-- KEYS[1] the stream, then one notification record hash per notification (same hash tag as
-- the stream), in the order of the notifications in ARGV.
-- ARGV: 1 idempotency TTL (ms), 2 record TTL (s), 3 stream MAXLEN (approximate), then per
--   notification: fingerprint, now (epoch ms), userId, type, number of entry fields F (names
--   and values counted), then the F entry fields and values.
-- Returns per notification {'accepted', streamId} | {'duplicate', streamId} | {'mismatch', streamId}.
local stream = KEYS[1]
local idempotencyMs, recordTtl, maxLen = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local replies = {}
local at = 4
for k = 2, #KEYS do
  local record = KEYS[k]
  local fp, now, uid, entryType = ARGV[at], tonumber(ARGV[at + 1]), ARGV[at + 2], ARGV[at + 3]
  local fieldCount = tonumber(ARGV[at + 4])
  local first = at + 5
  at = first + fieldCount
  local seen = redis.call('HMGET', record, 'fp', 'iu', 'sid')
  if seen[1] and seen[2] and seen[3] and tonumber(seen[2]) > now then
    replies[#replies + 1] = { seen[1] == fp and 'duplicate' or 'mismatch', seen[3] }
  else
    local sid = redis.call('XADD', stream, 'MAXLEN', '~', maxLen, '*', unpack(ARGV, first, first + fieldCount - 1))
    -- Past the idempotency window the id names a new notification: earlier status and claims go.
    redis.call('DEL', record)
    redis.call('HSET', record, 'fp', fp, 'iu', now + idempotencyMs, 'sid', sid, 'uid', uid, 'type', entryType, 'ts', now)
    redis.call('EXPIRE', record, recordTtl)
    replies[#replies + 1] = { 'accepted', sid }
  end
end
return replies
