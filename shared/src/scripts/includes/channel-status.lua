-- A channel's status as the record keeps it: compact JSON under STATUS's keys (see
-- encodeChannelStatus in notification-record.ts). Needs the layout include before it.
local function decodeStatus(text)
  if not text or text == '' then return nil end
  local ok, value = pcall(cjson.decode, text)
  if ok and type(value) == 'table' then return value end
  return nil
end

local function statusPass(status)
  return tonumber(status[STATUS.pass]) or 0
end

local function encodeStatus(state, attempts, updatedAt, pass)
  return cjson.encode({ [STATUS.state] = state, [STATUS.attempts] = attempts, [STATUS.updatedAt] = updatedAt, [STATUS.pass] = pass })
end
