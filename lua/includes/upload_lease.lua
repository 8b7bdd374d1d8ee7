--[[
  Upload leases: one process at a time works on an upload. Times come from the Redis server
  (server_ms, the one clock), so every process sees the same clock.
  open_upload(uploadKey): {-10} no such upload or {-11} finished; else nil, the lease's owner
    and the end of its lease (ms).
  hold_lease(uploadKey, owner, leaseMs): nil when `owner` holds the upload's lease (which is
    then extended by leaseMs), else the reply to return: {-10}, {-11}, or {-8} another owner
    holds it.
]]
-- @include clock

local function open_upload(uploadKey)
  local fields = redis.call('HMGET', uploadKey, 'status', 'owner', 'lease_until')
  if not fields[1] then
    return {-10}
  end
  if fields[1] ~= 'in_progress' then
    return {-11}
  end
  return nil, fields[2], tonumber(fields[3] or 0)
end

local function hold_lease(uploadKey, owner, leaseMs)
  local closed, holder = open_upload(uploadKey)
  if closed then
    return closed
  end
  if holder ~= owner then
    return {-8}
  end
  redis.call('HSET', uploadKey, 'lease_until', server_ms() + tonumber(leaseMs))
  return nil
end
