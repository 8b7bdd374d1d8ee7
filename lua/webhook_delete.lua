--[[
  Delete a webhook endpoint with its deliveries. Fixed cost: the deliveries live in a few keys,
  which UNLINK frees off the main thread however many they hold.
  Input:
    KEYS[1] endpoint index
    KEYS[2] the endpoint's hash
    KEYS[3] the engine's state (its endpoints' version is moved on)
    KEYS[4..] the endpoint's delivery keys
    ARGV[1] endpoint id
  Output:
    {0}     deleted
    {-23}   no such endpoint
]]
if redis.call('EXISTS', KEYS[2]) == 0 then
  return {-23}
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'version', 1)
-- bounded: the endpoint's six delivery keys
redis.call('UNLINK', KEYS[2], unpack(KEYS, 4))
return {0}
