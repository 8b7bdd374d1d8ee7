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
local refused = guard_status(metaKey, tonumber(ARGV[1]), ARGV[2])
if refused then
  return refused
end
redis.call('HSET', metaKey, unpack(ARGV, 3))
return {0}
