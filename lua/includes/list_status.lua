--[[
  Shared helpers for scripts that check a list's status (nowMs: server_ms(), the one clock).
  effective_status(metaKey, nowMs): the stored status, or 'expired' for an active or paused
    list whose expires_at (ms) has passed; false when the list does not exist.
  status_in(status, csv): true when status is one of the comma-separated statuses.
  guard_status(metaKey, nowMs, csv): nil when the list exists and its status is in csv, else
    the reply to return, {-4} or {-5, status, linkedCount}.
]]
-- @include clock

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

-- nil when the list exists and its effective status is one of allowedCsv; otherwise the
-- reply the script returns: {-4} (no such list) or {-5, status, linkedCount}.
local function guard_status(metaKey, nowMs, allowedCsv)
  local status = effective_status(metaKey, nowMs)
  if not status then
    return {-4}
  end
  if not status_in(status, allowedCsv) then
    return {-5, status, redis.call('HGET', metaKey, 'linked_campaigns')}
  end
  return nil
end
