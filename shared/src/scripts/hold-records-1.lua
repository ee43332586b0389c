-- HERALD_MAX_RECORDS_PER_KEY: count the notification records one caller holds, and refuse to
-- let it hold more. The sorted set holds each notification id the caller published, scored by
-- when its record expires (ms); expired ones are dropped first. All of a request's ids are added,
-- or none: ids the caller already holds (a retry with the same id) are not counted again.
-- KEYS[1] the caller's sorted set.
-- ARGV: 1 now (epoch ms), 2 when the new records expire (epoch ms), 3 the cap, then the ids.
-- Returns {0} when held, else {held now, ms until the oldest record expires}.
local key = KEYS[1]
local now, expires, cap = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
local added = {}
for i = 4, #ARGV do
  if redis.call('ZADD', key, 'NX', expires, ARGV[i]) == 1 then
    added[#added + 1] = ARGV[i]
  end
end
local held = redis.call('ZCARD', key)
if held > cap and #added > 0 then
  redis.call('ZREM', key, unpack(added))
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return { held - #added, math.max(0, math.ceil(tonumber(oldest[2] or now) - now)) }
end
-- Held: ids held before now live as long as the records a publish may have renewed.
for i = 4, #ARGV do
  redis.call('ZADD', key, 'XX', 'GT', expires, ARGV[i])
end
redis.call('PEXPIREAT', key, redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
return { 0 }
