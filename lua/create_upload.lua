--[[
  Record an upload of a list whose status allows uploading codes; its created_at (and its
  finished_at when it failed already) is the server's time.
  Input:
    KEYS[1] meta hash
    KEYS[2] uploads index zset
    KEYS[3] the new upload's hash
    ARGV[1] statuses that allow uploading, comma-separated
    ARGV[2] upload id
    ARGV[3] "1" when the upload is finished already (a file-level error found at once)
    ARGV[4..] upload field, value pairs
  Output:
    {0, now}                     recorded at now (epoch milliseconds)
    {-4}                         no such list
    {-5, status, linkedCount}    the current (effective) status does not allow uploading
]]
-- @include list_status
local metaKey, indexKey, uploadKey = KEYS[1], KEYS[2], KEYS[3]
local now = server_ms()
local refused = guard_status(metaKey, now, ARGV[1])
if refused then
  return refused
end
redis.call('HSET', uploadKey, 'created_at', now, unpack(ARGV, 4)) -- bounded: a few fields
if ARGV[3] == '1' then
  redis.call('HSET', uploadKey, 'finished_at', now)
end
redis.call('ZADD', indexKey, now, ARGV[2])
return {0, now}
