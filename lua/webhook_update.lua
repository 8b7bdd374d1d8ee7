--[[
  Change fields of a webhook endpoint, or rotate its secret (the current one keeps signing
  until the overlap ends).
  Input:
    KEYS[1] the endpoint's hash
    KEYS[2] the engine's state (its endpoints' version is moved on)
    ARGV[1] rotation overlap ms, or "" when not rotating
    ARGV[2..] field, value pairs (each value JSON); with a rotation, the new "secret"
  Output:
    {0, now}   changed, at now (epoch ms)
    {-23}      no such endpoint
]]
-- @include clock
local endpointKey = KEYS[1]
if redis.call('EXISTS', endpointKey) == 0 then
  return {-23}
end
local now = server_ms()
if ARGV[1] ~= '' then
  local current = redis.call('HGET', endpointKey, 'secret')
  redis.call('HSET', endpointKey, 'previous_secret', current,
    'previous_until', now + tonumber(ARGV[1]))
end
for i = 2, #ARGV, 2 do
  redis.call('HSET', endpointKey, ARGV[i], ARGV[i + 1])
end
redis.call('HSET', endpointKey, 'updated_at', now)
redis.call('HINCRBY', KEYS[2], 'version', 1)
return {0, now}
