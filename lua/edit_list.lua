--[[
  Change a list's editable fields when its status allows editing; updated_at becomes the
  server's time.
  Input:
    KEYS[1] meta hash
    ARGV[1] statuses that allow the edit, comma-separated
    ARGV[2] new expires_at, epoch milliseconds (must be after the server's time), or "" to
            keep it
    ARGV[3..] more meta field, value pairs (name, description, low_stock_threshold)
  Output:
    {0, now}                     edited at now (epoch milliseconds)
    {-4}                         no such list
    {-5, status, linkedCount}    the current (effective) status does not allow editing
    {-21}                        the new expires_at is not in the future
]]
-- @include list_status
local metaKey = KEYS[1]
local now = server_ms()
local refused = guard_status(metaKey, now, ARGV[1])
if refused then
  return refused
end
local expiresAt = ARGV[2]
if expiresAt ~= '' then
  if tonumber(expiresAt) <= now then
    return {-21}
  end
  redis.call('HSET', metaKey, 'expires_at', expiresAt)
end
redis.call('HSET', metaKey, 'updated_at', now, unpack(ARGV, 3)) -- bounded: 3 pairs at most
return {0, now}
