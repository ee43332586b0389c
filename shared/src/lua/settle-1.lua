-- Settle one notification on one channel: mark its claims and move its status forward.
-- KEYS[1] the notification's record hash.
-- ARGV: 1 status field (`s:<channel>`), 2 new status JSON or '' (see notification-record.ts;
--       `s` state, `n` pass), 3 owner, 4 record TTL (s), 5 uid, 6 type, 7 sid, 8 ts,
--       9.. pairs of claim field and mark: 'd' delivered, 'f' failed for good, 'r' release
--       (drop the owner's lease so a retry can claim it again). Marks carry the status's pass.
-- Status only moves forward within a pass: pending -> retrying -> delivered | dead | skipped;
-- delivered and dead are final, skipped may still become delivered (a replay filling a gap),
-- nothing goes back to pending. A later pass may replace anything; an earlier one nothing.
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
    elseif pass == currentPass then
      if current.s == 'delivered' or current.s == 'dead' then
        allowed = false
      elseif new.s == 'pending' then
        allowed = false
      end
    end
  end
  if allowed then
    redis.call('HSET', record, ARGV[1], ARGV[2])
  end
end

for i = 9, #ARGV, 2 do
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
if ARGV[5] ~= '' then redis.call('HSETNX', record, 'uid', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSETNX', record, 'type', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSETNX', record, 'sid', ARGV[7]) end
if ARGV[8] ~= '' then redis.call('HSETNX', record, 'ts', ARGV[8]) end
local ttl = redis.call('TTL', record)
if ttl >= 0 and ttl < tonumber(ARGV[4]) or ttl == -1 then
  redis.call('EXPIRE', record, ARGV[4])
end
return 1
