#!lua
-- (The shebang makes Redis refuse the whole script up front when it is out of memory: an entry
-- is never acknowledged without its outcome written, nor half-settled.)
-- Settle a batch of entries on one channel, atomically, in one call: for each, mark its claims,
-- move its status forward, copy it to the dead-letter stream when it failed for good; then
-- acknowledge them all with one XACK.
-- KEYS[1] the stream, KEYS[2] the dead-letter stream, KEYS[3] the dead-letter counts per
-- channel, then one notification record hash per entry, in the order of the entries in ARGV.
-- ARGV: 1 group, 2 consumer, 3 record TTL (s), 4 status field (`s:<channel>`),
--   then per entry:
--     new status JSON or '' (see channel-status.lua), attempt token,
--     uid, type, ts (for records a worker creates; uid '' when the entry names none),
--     the entry's stream id,
--     action: 'ack' (acknowledge), 'retry' (stays pending; its idle time restarts now, so the
--       backoff counts from the failure), or 'none',
--     number of claim marks M, then M pairs of claim field and mark: MARK.delivered,
--       MARK.failed (for good), MARK.release (drop the token's own lease so a retry may claim),
--     number of dead-letter fields L (0 for none), then L fields and values, starting with
--       `channel <channel>`.
-- Status only moves forward within a pass: nothing goes back to pending; delivered is final;
-- a skip never replaces delivered or dead; skipped and dead may still become retrying or
-- delivered (an entry walked again, as a replay filling gaps does). A later pass may replace
-- anything; an earlier one nothing. A skip as `not_requested` never replaces an existing status.
-- Returns how many entries it settled.
--! include layout
--! include lease
--! include channel-status
local function allowed(new, current)
  if not current then return true end
  local pass, currentPass = statusPass(new), statusPass(current)
  if pass < currentPass then return false end
  local state, currentState = new[STATUS.state], current[STATUS.state]
  -- An entry that does not name this channel (a redrive narrowed to another one) says nothing
  -- new about it: the status an earlier entry wrote stands.
  if state == STATE.skipped and new[STATUS.reason] == SKIP.not_requested then return false end
  if pass == currentPass then
    if currentState == STATE.delivered or state == STATE.pending then return false end
    if currentState == STATE.dead and state == STATE.skipped then return false end
  end
  return true
end

local stream, deadLetters, counts = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, ttl, statusField = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local acks, retries = {}, {}
local at = 5
for k = 4, #KEYS do
  local record = KEYS[k]
  local statusText, token, uid = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  local entryType, ts, streamId, action = ARGV[at + 3], ARGV[at + 4], ARGV[at + 5], ARGV[at + 6]
  local marks = tonumber(ARGV[at + 7])
  local marksAt = at + 8
  local letterAt = marksAt + 2 * marks
  local letterFields = tonumber(ARGV[letterAt])
  at = letterAt + 1 + letterFields

  local new = decodeStatus(statusText)
  if new or marks > 0 or uid ~= '' then
    -- What this entry's writes depend on, in one read: the status, whether the publisher made
    -- the record, and the leases it may release.
    local fields = { statusField, RECORD.userId }
    for i = marksAt, letterAt - 1, 2 do
      if ARGV[i + 1] == MARK.release then fields[#fields + 1] = ARGV[i] end
    end
    local values = redis.call('HMGET', record, unpack(fields))
    local pass = new and statusPass(new) or 0
    local writes = {}
    if new and allowed(new, decodeStatus(values[1])) then
      writes[1] = statusField
      writes[2] = statusText
    end
    local releases = {}
    local released = 3
    for i = marksAt, letterAt - 1, 2 do
      local field, mark = ARGV[i], ARGV[i + 1]
      if mark == MARK.release then
        local _, holder = parseLease(values[released])
        released = released + 1
        if holder == token then releases[#releases + 1] = field end
      else
        writes[#writes + 1] = field
        writes[#writes + 1] = mark .. pass
      end
    end
    -- Entries from other producers have no record yet: give it what the status view needs.
    local foreign = not values[2] and uid ~= ''
    if foreign then
      for _, pair in ipairs({ { RECORD.userId, uid }, { RECORD.type, entryType }, { RECORD.streamId, streamId }, { RECORD.createdAt, ts } }) do
        writes[#writes + 1] = pair[1]
        writes[#writes + 1] = pair[2]
      end
    end
    if #writes > 0 then redis.call('HSET', record, unpack(writes)) end
    if #releases > 0 then redis.call('HDEL', record, unpack(releases)) end
    if foreign then
      local left = redis.call('TTL', record)
      if left == -1 or (left >= 0 and left < ttl) then redis.call('EXPIRE', record, ttl) end
    elseif values[2] then
      -- The record outlives its last outcome by the retention window.
      redis.call('EXPIRE', record, ttl, 'GT')
    end
  end

  if letterFields > 0 then
    -- Bounded by the trimmer (HERALD_DLQ_MAXLEN and the retention window), which keeps the counts.
    redis.call('XADD', deadLetters, '*', unpack(ARGV, letterAt + 1, letterAt + letterFields))
    redis.call('HINCRBY', counts, ARGV[letterAt + 2], 1)
  end
  if action == 'ack' then
    acks[#acks + 1] = streamId
  elseif action == 'retry' then
    retries[#retries + 1] = streamId
  end
end

-- In slices: Lua's unpack has a limit on how many values it spreads.
local SLICE = 1000
for i = 1, #acks, SLICE do
  redis.call('XACK', stream, group, unpack(acks, i, math.min(#acks, i + SLICE - 1)))
end
for i = 1, #retries, SLICE do
  local args = { stream, group, consumer, 0 }
  for j = i, math.min(#retries, i + SLICE - 1) do args[#args + 1] = retries[j] end
  args[#args + 1] = 'JUSTID'
  redis.call('XCLAIM', unpack(args))
end
return #KEYS - 3
