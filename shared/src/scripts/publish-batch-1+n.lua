-- Append notifications, each once per id: the idempotency check and the XADD are one atomic
-- step, so 50 concurrent requests with one id append exactly one entry. One call per request
-- (a batch of up to 500, or a single notification): per notification it costs the hash and
-- stream commands, not a script call of its own.
-- KEYS[1] the stream, then one notification record hash per notification (same hash tag as
-- the stream), in the order of the notifications in ARGV.
-- ARGV: 1 idempotency TTL (ms), 2 record TTL (s), 3 stream MAXLEN (approximate), then per
--   notification: fingerprint, now (epoch ms), userId, type, the publishing key's scope as an
--   anchored Lua pattern of user ids ('' for every user), number of entry fields F (names and
--   values counted), then the F entry fields and values.
-- Returns per notification {'accepted', streamId} | {'duplicate', streamId} | {'mismatch', streamId}
--   | {'taken', ''}: the id's record, still kept, is of a user outside the key's scope; the key
--   learns nothing of it (not even its stream id) and cannot replace it, whatever its age.
-- Ids are one namespace: a scoped key may take an id another tenant would later want, so
-- tenants prefix their ids (README, Security).
--! include layout
local stream = KEYS[1]
local idempotencyMs, recordTtl, maxLen = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local replies = {}
local at = 4
for k = 2, #KEYS do
  local record = KEYS[k]
  local fp, now, uid, entryType, scope = ARGV[at], tonumber(ARGV[at + 1]), ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
  local fieldCount = tonumber(ARGV[at + 5])
  local first = at + 6
  at = first + fieldCount
  local seen = redis.call('HMGET', record, RECORD.fingerprint, RECORD.idempotentUntil, RECORD.streamId, RECORD.userId)
  if scope ~= '' and seen[4] and not string.find(seen[4], scope) then
    replies[#replies + 1] = { 'taken', '' }
  elseif seen[1] and seen[2] and seen[3] and tonumber(seen[2]) > now then
    replies[#replies + 1] = { seen[1] == fp and 'duplicate' or 'mismatch', seen[3] }
  else
    local sid = redis.call('XADD', stream, 'MAXLEN', '~', maxLen, '*', unpack(ARGV, first, first + fieldCount - 1))
    -- Past the idempotency window the id names a new notification: earlier status and claims go.
    redis.call('DEL', record)
    redis.call('HSET', record, RECORD.fingerprint, fp, RECORD.idempotentUntil, now + idempotencyMs, RECORD.streamId, sid,
      RECORD.userId, uid, RECORD.type, entryType, RECORD.createdAt, now)
    redis.call('EXPIRE', record, recordTtl)
    replies[#replies + 1] = { 'accepted', sid }
  end
end
return replies
