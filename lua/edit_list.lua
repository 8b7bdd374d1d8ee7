--[[
  Change a list's editable fields when its status allows editing.
  Input:
    KEYS[1] meta hash
    ARGV[1] now, epoch milliseconds
    ARGV[2] statuses that allow the edit, comma-separated
    ARGV[3..] meta field, value pairs (updated_at included)
  Output:
    {0}                          edited
    {-4}                         no such list
    {-5, status, linkedCount}    the current (effective) status does not allow editing
]]
-- @include list_status
local metaKey = KEYS[1]
local status = effective_status(metaKey, tonumber(ARGV[1]))
if not status then
  return {-4}
end
if not status_in(status, ARGV[2]) then
  return {-5, status, redis.call('HGET', metaKey, 'linked_campaigns')}
end
redis.call('HSET', metaKey, unpack(ARGV, 3))
return {0}
