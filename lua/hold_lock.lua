--[[
  Take or keep a lease held by one process at a time (the event relay's, the scheduled
  snapshots'). The token names one holding: a process that lost the lease takes it again
  with a new token, so steps fenced by the token (append_events.lua) refuse its old ones.
  Input:
    KEYS[1] lock key
    ARGV[1] token
    ARGV[2] time to live, milliseconds
  Output:
    1   the token holds the lease for the next ARGV[2] ms
    0   another token holds it
]]
local lockKey = KEYS[1]
local holder = redis.call('GET', lockKey)
if holder and holder ~= ARGV[1] then
  return 0
end
redis.call('SET', lockKey, ARGV[1], 'PX', ARGV[2])
return 1
