-- Take one send from this second's budget, shared by every replica of a channel.
-- The second is Redis's (TIME), so replicas with drifting clocks still share one window.
-- KEYS[1] the channel's rate key: a hash of the current second and the sends taken in it.
-- ARGV[1] sends allowed per second.
-- Returns 0 when the send may go now, else the ms until the next second, when to ask again.
--! include layout
local now = redis.call('TIME')
local second = now[1]
local wait = 1000 - math.floor(tonumber(now[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], SEND_RATE.second, SEND_RATE.count)
local used = 0
if state[1] == second then
  used = tonumber(state[2]) or 0
end
if used >= tonumber(ARGV[1]) then
  return wait
end
redis.call('HSET', KEYS[1], SEND_RATE.second, second, SEND_RATE.count, used + 1)
redis.call('PEXPIRE', KEYS[1], 2000)
return 0
