#!lua
-- (The shebang makes Redis refuse the whole script up front when it is out of memory, instead
-- of failing half-way through.)
-- Claim delivery targets of a batch of notifications on one channel, before sending: one call
-- per batch, so the cost per entry is two hash commands, not a script call of its own.
-- A claim field holds a mark (CLAIM_MARKS in notification-record.ts): delivered in a pass
-- (never send again in it), failed for good in a pass (does not block a later claim: an entry
-- walked again, as a replay filling the gaps an outage left, tries once more), or a lease.
-- A token names one attempt on one entry (consumer, stream id, attempt), so a duplicate entry,
-- or a later attempt of the same entry, waits for a lease that is still running.
-- A claim from an earlier pass no longer holds (a replay with resend or a redrive starts a new one).
-- KEYS: one notification record per entry, in the order of the entries in ARGV.
-- ARGV: 1 lease (ms), 2 record TTL (s), 3 the records' redrive-pass field of the channel,
--       then per entry: token, the channel's pass for it, number of claim fields F, F fields.
-- Returns per entry: the pass in effect (the later of the channel's and a redrive's), then per
-- field RESULT.ok (leased to token), RESULT.done or RESULT.busy (leased to another).
--! include layout
--! include lease
--! include time-ms
local now = nowMs()
local lease, ttl, passField = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local replies = {}
local at = 4
for k = 1, #KEYS do
  local record, token = KEYS[k], ARGV[at]
  local count = tonumber(ARGV[at + 2])
  local fields = { passField, RECORD.userId }
  for i = 1, count do fields[i + 2] = ARGV[at + 2 + i] end
  local values = redis.call('HMGET', record, unpack(fields))
  local pass = math.max(tonumber(ARGV[at + 1]), tonumber(values[1] or '0') or 0)
  local results = { pass }
  local leases = {}
  for i = 1, count do
    local value = values[i + 2]
    local result = RESULT.ok
    local leasePass, holder, untilMs = parseLease(value)
    if leasePass then
      if leasePass >= pass and holder ~= token and untilMs > now then result = RESULT.busy end
    elseif value and string.sub(value, 1, 1) == MARK.delivered then
      local p = tonumber(string.sub(value, 2))
      if p and p >= pass then result = RESULT.done end
    end
    if result == RESULT.ok then
      leases[#leases + 1] = fields[i + 2]
      leases[#leases + 1] = leaseValue(pass, token, now + lease)
    end
    results[i + 1] = result
  end
  if #leases > 0 then redis.call('HSET', record, unpack(leases)) end
  -- A record without a user was not made by the publisher (an entry another producer
  -- appended): it must expire like any other.
  if not values[2] and redis.call('TTL', record) == -1 then
    redis.call('EXPIRE', record, ttl)
  end
  replies[k] = results
  at = at + 3 + count
end
return replies
