--[[
  Shared helpers for scripts that check a list's status.
  effective_status(metaKey, nowMs): the stored status, or 'expired' for an active or paused
    list whose expires_at (ms) has passed; false when the list does not exist.
  status_in(status, csv): true when status is one of the comma-separated statuses.
]]
local function effective_status(metaKey, nowMs)
  local fields = redis.call('HMGET', metaKey, 'status', 'expires_at')
  local status = fields[1]
  if not status then
    return false
  end
  if (status == 'active' or status == 'paused') and nowMs >= tonumber(fields[2]) then
    return 'expired'
  end
  return status
end

local function status_in(status, csv)
  return string.find(',' .. csv .. ',', ',' .. status .. ',', 1, true) ~= nil
end
