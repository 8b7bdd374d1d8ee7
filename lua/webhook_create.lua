--[[
  Add a webhook endpoint, unless the store already holds the most it keeps.
  Input:
    KEYS[1] endpoint index (zset: endpoint id scored by created_at ms)
    KEYS[2] the endpoint's hash
    KEYS[3] the engine's state (its endpoints' version is moved on)
    ARGV[1] the most endpoints kept
    ARGV[2] endpoint id
    ARGV[3..] field, value pairs (each value JSON)
  Output:
    {0, now}   created, at now (epoch ms)
    {-24}      the store holds ARGV[1] endpoints already
]]
-- @include clock
local indexKey, endpointKey = KEYS[1], KEYS[2]
if redis.call('ZCARD', indexKey) >= tonumber(ARGV[1]) then
  return {-24}
end
local now = server_ms()
for i = 3, #ARGV, 2 do
  redis.call('HSET', endpointKey, ARGV[i], ARGV[i + 1])
end
redis.call('HSET', endpointKey, 'created_at', now, 'updated_at', now)
redis.call('ZADD', indexKey, now, ARGV[2])
redis.call('HINCRBY', KEYS[3], 'version', 1)
return {0, now}
