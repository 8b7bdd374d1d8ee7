--[[
  Record an upload of a list whose status allows uploading codes.
  Input:
    KEYS[1] meta hash
    KEYS[2] uploads index zset
    KEYS[3] the new upload's hash
    ARGV[1] now, epoch milliseconds (the upload's created_at)
    ARGV[2] statuses that allow uploading, comma-separated
    ARGV[3] upload id
    ARGV[4..] upload field, value pairs
  Output:
    {0}                          recorded
    {-4}                         no such list
    {-5, status, linkedCount}    the current (effective) status does not allow uploading
]]
-- @include list_status
local metaKey, indexKey, uploadKey = KEYS[1], KEYS[2], KEYS[3]
local refused = guard_status(metaKey, tonumber(ARGV[1]), ARGV[2])
if refused then
  return refused
end
redis.call('HSET', uploadKey, unpack(ARGV, 4))
redis.call('ZADD', indexKey, ARGV[1], ARGV[3])
return {0}
