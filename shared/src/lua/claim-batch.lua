#!lua
-- (The shebang makes Redis refuse the whole script up front when it is out of memory, instead
-- of failing half-way through.)
-- Claim delivery targets of a batch of notifications on one channel, before sending: one call
-- per batch, so the cost per entry is two hash commands, not a script call of its own.
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
-- KEYS: one notification record hash per entry, in the order of the entries in ARGV.
-- ARGV: 1 lease (ms), 2 record TTL (s), 3 the records' redrive-pass field (`p:<channel>`),
--       then per entry: token, the channel's pass for it, number of claim fields F, F fields.
-- Returns per entry: the pass in effect (the later of the channel's and a redrive's), then per
-- field 'ok' (leased to token), 'done' or 'busy' (leased to another).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease, ttl, passField = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local replies = {}
local at = 4
for k = 1, #KEYS do
  local record, token = KEYS[k], ARGV[at]
  local count = tonumber(ARGV[at + 2])
  local fields = { passField, 'uid' }
  for i = 1, count do fields[i + 2] = ARGV[at + 2 + i] end
  local values = redis.call('HMGET', record, unpack(fields))
  local pass = math.max(tonumber(ARGV[at + 1]), tonumber(values[1] or '0') or 0)
  local results = { pass }
  local leases = {}
  for i = 1, count do
    local value = values[i + 2]
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
      leases[#leases + 1] = fields[i + 2]
      leases[#leases + 1] = 'l' .. pass .. '|' .. token .. '|' .. (now + lease)
    end
    results[i + 1] = result
  end
  if #leases > 0 then redis.call('HSET', record, unpack(leases)) end
  -- A record without `uid` was not made by the publisher (an entry another producer appended):
  -- it must expire like any other.
  if not values[2] and redis.call('TTL', record) == -1 then
    redis.call('EXPIRE', record, ttl)
  end
  replies[k] = results
  at = at + 3 + count
end
return replies
