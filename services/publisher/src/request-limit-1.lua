-- Take one request from a caller's budget of ARGV[1] requests a minute, shared by every publisher
-- replica. GCRA (the generic cell rate algorithm): KEYS[1] holds the theoretical arrival time
-- (TAT, ms) of the caller's next request. A caller may spend a whole minute's budget at once,
-- then one request every 60000 / ARGV[1] ms; a refused request spends nothing. The clock is
-- Redis's (TIME), so replicas with drifting clocks agree; the key expires once the budget is full
-- again, so an idle caller costs nothing.
-- KEYS[1] the caller's budget key. ARGV[1] requests per minute, above 0.
-- Returns 0 when the request may go, else the ms until it would.
local period = 60000
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local next_tat = tat + period / tonumber(ARGV[1])
local wait = next_tat - period - now
if wait > 0 then
  return math.ceil(wait)
end
redis.call('SET', KEYS[1], string.format('%.3f', next_tat), 'PX', math.ceil(next_tat - now))
return 0
