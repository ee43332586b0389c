-- Claim delivery targets of one notification on one channel, before sending.
-- A claim field (`c:<target>`) holds one of:
--   d<pass>                     delivered in that pass: never send again in it
--   f<pass>                     failed for good in that pass (permanent, gone, out of attempts)
--   l<pass>|<owner>|<untilMs>   a lease: <owner> is sending until <untilMs>
-- A claim from an earlier pass no longer holds (a replay with resend or a redrive starts a new one).
-- KEYS[1] the notification's record hash.
-- ARGV: 1 owner, 2 now (ms), 3 lease (ms), 4 pass, 5 record TTL (s), 6.. claim fields.
-- Returns, per field: 'ok' (leased to owner), 'done', 'failed' or 'busy' (leased to another).
local owner, now, lease, pass = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local results = {}
for i = 6, #ARGV do
  local field = ARGV[i]
  local value = redis.call('HGET', KEYS[1], field)
  local result = 'ok'
  if value then
    local kind = string.sub(value, 1, 1)
    if kind == 'l' then
      local p, holder, untilMs = string.match(value, '^l(%d+)|(.*)|(%d+)$')
      if p and tonumber(p) >= pass and holder ~= owner and tonumber(untilMs) > now then
        result = 'busy'
      end
    else
      local p = tonumber(string.sub(value, 2))
      if p and p >= pass then
        result = (kind == 'd') and 'done' or 'failed'
      end
    end
  end
  if result == 'ok' then
    redis.call('HSET', KEYS[1], field, 'l' .. pass .. '|' .. owner .. '|' .. (now + lease))
  end
  results[#results + 1] = result
end
-- A record created here (an entry another producer appended) must expire like any other.
if redis.call('TTL', KEYS[1]) == -1 then
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
return results
