--[[
  Take the lease of an upload in progress, unless another owner's lease is still running.
  Input:
    KEYS[1] upload hash
    ARGV[1] owner (a token naming the claiming process)
    ARGV[2] lease, milliseconds
  Output:
    {0, field, value, ...}   claimed: the upload's record
    {-8}                     another owner's lease has not run out
    {-10}                    no such upload
    {-11}                    the upload is finished
]]
-- @include upload_lease
local uploadKey = KEYS[1]
local closed, holder, leaseEnd = open_upload(uploadKey)
if closed then
  return closed
end
local now = server_ms()
if holder and holder ~= ARGV[1] and now < leaseEnd then
  return {-8}
end
redis.call('HSET', uploadKey, 'owner', ARGV[1], 'lease_until', now + tonumber(ARGV[2]))
local reply = redis.call('HGETALL', uploadKey)
table.insert(reply, 1, 0)
return reply
