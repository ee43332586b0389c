-- Store one push subscription of a user, who may hold at most ARGV[3] of them
-- (HERALD_MAX_PUSH_SUBSCRIPTIONS): beyond it the oldest by createdAt go, never the one just
-- stored. One script, so that concurrent registrations never leave more than the cap. A value
-- that does not decode, or has no createdAt, counts as the oldest; ties go by endpoint.
-- KEYS[1] the user's push subscriptions (hash: endpoint -> subscription JSON).
-- ARGV: 1 the endpoint, 2 the subscription's JSON, 3 the most subscriptions a user may hold.
-- Returns {added, dropped}: added is 1 when the endpoint was new to the user, 0 when it
-- replaced that endpoint's subscription; dropped, how many of the oldest were removed.
--! include layout
local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local count = redis.call('HLEN', KEYS[1])
local excess = count - tonumber(ARGV[3])
if excess <= 0 then
  return { added, 0 }
end
-- Above the cap (one more than it, or a user stored before it): look at every other one.
local all = redis.call('HGETALL', KEYS[1])
local others = {}
for i = 1, #all, 2 do
  if all[i] ~= ARGV[1] then
    local ok, subscription = pcall(cjson.decode, all[i + 1])
    local createdAt = ok and type(subscription) == 'table' and tonumber(subscription[PUSH.createdAt]) or -1
    others[#others + 1] = { all[i], createdAt }
  end
end
table.sort(others, function(a, b)
  if a[2] ~= b[2] then
    return a[2] < b[2]
  end
  return a[1] < b[1]
end)
for i = 1, excess do
  redis.call('HDEL', KEYS[1], others[i][1])
end
return { added, excess }
