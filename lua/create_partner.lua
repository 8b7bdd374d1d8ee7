--[[
  Create a partner record.
  Input:
    KEYS[1] partner hash
    ARGV[1] created_at, epoch milliseconds
  Output:
    {0}   created
    {-2}  a partner with this exact name exists
]]
local partnerKey = KEYS[1]
if redis.call('EXISTS', partnerKey) == 1 then
  return {-2}
end
redis.call('HSET', partnerKey, 'created_at', ARGV[1], 'lists', 0)
return {0}
