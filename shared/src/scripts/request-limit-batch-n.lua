-- Take one request from each caller's budget of ARGV[1] requests a minute, shared by every
-- publisher replica; one call for all the requests that arrived together (a caller may appear
-- more than once: each request is counted in turn). GCRA (the generic cell rate algorithm): a
-- caller's key holds the theoretical arrival time (TAT, ms) of its next request. A caller may
-- spend a whole minute's budget at once, then one request every 60000 / ARGV[1] ms; a refused
-- request spends nothing. The clock is Redis's (TIME), so replicas with drifting clocks agree;
-- the key expires once the budget is full again, so an idle caller costs nothing.
-- A request may count more than one (a batch counts each notification): it then takes that many
-- intervals at once.
-- KEYS: one caller's budget key per request. ARGV[1] requests per minute, above 0; ARGV[1 + i]
-- what request i counts (at most ARGV[1]).
-- Returns per request 0 when it may go, else the ms until it would.
local period = 60000
local interval = period / tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local waits = {}
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then
    tat = now
  end
  local next_tat = tat + interval * tonumber(ARGV[1 + i])
  local wait = next_tat - period - now
  if wait > 0 then
    waits[i] = math.ceil(wait)
  else
    redis.call('SET', KEYS[i], string.format('%.3f', next_tat), 'PX', math.ceil(next_tat - now))
    waits[i] = 0
  end
end
return waits
