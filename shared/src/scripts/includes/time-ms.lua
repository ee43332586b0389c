-- Redis's clock in whole milliseconds, so that replicas with drifting clocks agree.
local function nowMs()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
