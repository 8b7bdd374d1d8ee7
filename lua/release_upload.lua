--[[
  Give up an upload's lease (its process is shutting down), so another process resumes the
  upload at once instead of waiting for the lease to run out.
  Input:
    KEYS[1] upload hash
    ARGV[1] owner
  Output:
    {0}          released
    {-8}         another owner holds it
    {-10} {-11}  the upload is gone, or finished
]]
-- @include upload_lease
local uploadKey = KEYS[1]
local closed, holder = open_upload(uploadKey)
if closed then
  return closed
end
if holder ~= ARGV[1] then
  return {-8}
end
redis.call('HDEL', uploadKey, 'owner', 'lease_until')
return {0}
