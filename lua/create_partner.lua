--[[
  Create a partner record.
  Input:
    KEYS[1] partner hash
  Output:
    {0, createdAt}   created (server time, epoch milliseconds)
    {-2}             a partner with this exact name exists
]]
-- @include clock
local partnerKey = KEYS[1]
if redis.call('EXISTS', partnerKey) == 1 then
  return {-2}
end
local now = server_ms()
redis.call('HSET', partnerKey, 'created_at', now, 'lists', 0)
return {0, now}
