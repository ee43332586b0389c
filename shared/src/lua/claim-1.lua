#!lua
-- (The shebang makes Redis refuse the whole script up front when it is out of memory, instead
-- of failing half-way through.)
-- Claim delivery targets of one notification on one channel, before sending.
-- A claim field (`c:<target>`) holds one of:
--   d<pass>                     delivered in that pass: never send again in it
--   f<pass>                     failed for good in that pass (permanent, gone, out of attempts);
--                               it does not block a later claim: an entry walked again (a replay
--                               filling the gaps an outage left) tries once more
--   l<pass>|<token>|<untilMs>   a lease: the attempt holding <token> is sending until <untilMs>
-- A token names one attempt on one entry (consumer, stream id, attempt), so a duplicate entry,
-- or a later attempt of the same entry, waits for a lease that is still running.
-- A claim from an earlier pass no longer holds (a replay with resend or a redrive starts a new one).
-- Lease times are Redis's clock, so replicas with drifting clocks agree.
-- KEYS[1] the notification's record hash.
-- ARGV: 1 token, 2 lease (ms), 3 the channel's pass for this entry, 4 record TTL (s),
--       5 the record's redrive-pass field (`p:<channel>`), 6.. claim fields.
-- Returns the pass in effect (the later of the channel's and a redrive's), then per field:
-- 'ok' (leased to token), 'done' or 'busy' (leased to another).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local token, lease = ARGV[1], tonumber(ARGV[2])
local pass = math.max(tonumber(ARGV[3]), tonumber(redis.call('HGET', KEYS[1], ARGV[5]) or '0') or 0)
local results = { pass }
for i = 6, #ARGV do
  local field = ARGV[i]
  local value = redis.call('HGET', KEYS[1], field)
  local result = 'ok'
  if value then
    local kind = string.sub(value, 1, 1)
    if kind == 'l' then
      local p, holder, untilMs = string.match(value, '^l(%d+)|(.*)|(%d+)$')
      if p and tonumber(p) >= pass and holder ~= token and tonumber(untilMs) > now then
        result = 'busy'
      end
    elseif kind == 'd' then
      local p = tonumber(string.sub(value, 2))
      if p and p >= pass then result = 'done' end
    end
  end
  if result == 'ok' then
    redis.call('HSET', KEYS[1], field, 'l' .. pass .. '|' .. token .. '|' .. (now + lease))
  end
  results[#results + 1] = result
end
-- A record created here (an entry another producer appended) must expire like any other.
if redis.call('TTL', KEYS[1]) == -1 then
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return results
