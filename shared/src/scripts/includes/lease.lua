-- A delivery lease as a claim field holds it: the lease mark, the pass, the token of the attempt
-- holding it and when it runs out (ms, Redis's clock), as CLAIM_MARKS in notification-record.ts
-- describes. Needs the layout include before it.
local function leaseValue(pass, token, untilMs)
  return MARK.lease .. pass .. '|' .. token .. '|' .. untilMs
end

-- The pass, token and end of a lease; nil when the value is not a lease.
local function parseLease(value)
  if not value or string.sub(value, 1, 1) ~= MARK.lease then return nil end
  local pass, holder, untilMs = string.match(value, '^.(%d+)|(.*)|(%d+)$')
  if not pass then return nil end
  return tonumber(pass), holder, tonumber(untilMs)
end
