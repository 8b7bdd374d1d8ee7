--[[
  Take or keep a lock held by one process at a time (the event relay's).
  Input:
    KEYS[1] lock key
    ARGV[1] owner token
    ARGV[2] time to live, milliseconds
  Output:
    1   the owner holds the lock for the next ARGV[2] ms
    0   another owner holds it
]]
local lockKey = KEYS[1]
local holder = redis.call('GET', lockKey)
if holder and holder ~= ARGV[1] then
  return 0
end
redis.call('SET', lockKey, ARGV[1], 'PX', ARGV[2])
return 1
