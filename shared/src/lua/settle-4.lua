#!lua
-- (The shebang makes Redis refuse the whole script up front when it is out of memory: an entry
-- is never acknowledged without its outcome written, nor half-settled.)
-- Settle one entry on one channel, atomically: mark its claims, move its status forward,
-- copy it to the dead-letter stream when it failed for good, and acknowledge it.
-- KEYS[1] the notification's record hash, KEYS[2] the stream, KEYS[3] the dead-letter stream,
-- KEYS[4] the dead-letter counts per channel.
-- ARGV: 1 status field (`s:<channel>`), 2 new status JSON or '' (`s` state, `n` pass),
--       3 attempt token, 4 record TTL (s), 5 uid, 6 type, 7 sid, 8 ts (for records a worker
--       creates), 9 group, 10 consumer, 11 the entry's stream id,
--       12 action: 'ack' (acknowledge), 'retry' (stays pending; its idle time restarts now, so
--          the backoff counts from the failure), or 'none',
--       13 number of claim marks M, then M pairs of claim field and mark: 'd' delivered,
--          'f' failed for good, 'r' release (drop the token's own lease so a retry may claim),
--       then, for a dead letter: its fields and values, starting with `channel <channel>`.
-- Status only moves forward within a pass: nothing goes back to pending; delivered is final;
-- a skip never replaces delivered or dead; skipped and dead may still become retrying or
-- delivered (an entry walked again, as a replay filling gaps does). A later pass may replace
-- anything; an earlier one nothing. A skip as `not_requested` never replaces an existing status.
local function decode(text)
  if not text or text == '' then return nil end
  local ok, value = pcall(cjson.decode, text)
  if ok and type(value) == 'table' then return value end
  return nil
end

local record = KEYS[1]
local new = decode(ARGV[2])
local pass = 0
if new then
  pass = tonumber(new.n) or 0
  local current = decode(redis.call('HGET', record, ARGV[1]))
  local allowed = true
  if current then
    local currentPass = tonumber(current.n) or 0
    if pass < currentPass then
      allowed = false
    elseif new.s == 'skipped' and new.r == 'not_requested' then
      -- An entry that does not name this channel (a redrive narrowed to another one) says
      -- nothing new about it: the status an earlier entry wrote stands.
      allowed = false
    elseif pass == currentPass then
      if current.s == 'delivered' or new.s == 'pending' then
        allowed = false
      elseif current.s == 'dead' and new.s == 'skipped' then
        allowed = false
      end
    end
  end
  if allowed then
    redis.call('HSET', record, ARGV[1], ARGV[2])
  end
end

local marks = tonumber(ARGV[13])
for i = 14, 13 + 2 * marks, 2 do
  local field, mark = ARGV[i], ARGV[i + 1]
  if mark == 'r' then
    local value = redis.call('HGET', record, field)
    if value and string.sub(value, 1, 1) == 'l' then
      local _, holder = string.match(value, '^l(%d+)|(.*)|(%d+)$')
      if holder == ARGV[3] then redis.call('HDEL', record, field) end
    end
  else
    redis.call('HSET', record, field, mark .. pass)
  end
end

-- Entries from other producers have no record yet: give it what the status view needs.
if ARGV[5] ~= '' then
  redis.call('HSETNX', record, 'uid', ARGV[5])
  redis.call('HSETNX', record, 'type', ARGV[6])
  redis.call('HSETNX', record, 'sid', ARGV[7])
  redis.call('HSETNX', record, 'ts', ARGV[8])
end
local ttl = redis.call('TTL', record)
if ttl == -1 or (ttl >= 0 and ttl < tonumber(ARGV[4])) then
  redis.call('EXPIRE', record, ARGV[4])
end

local letter = 14 + 2 * marks
if #ARGV >= letter then
  -- Bounded by the trimmer (HERALD_DLQ_MAXLEN and the retention window), which keeps the counts.
  redis.call('XADD', KEYS[3], '*', unpack(ARGV, letter))
  redis.call('HINCRBY', KEYS[4], ARGV[letter + 1], 1)
end

if ARGV[12] == 'ack' then
  redis.call('XACK', KEYS[2], ARGV[9], ARGV[11])
elseif ARGV[12] == 'retry' then
  redis.call('XCLAIM', KEYS[2], ARGV[9], ARGV[10], 0, ARGV[11], 'JUSTID')
end
return 1
