--[[
  The cut of a snapshot for one list, read in one atomic step after its codes were scanned:
  the list's metadata and the last entries of its allocation log and outbox.
  Input:
    KEYS[1] meta hash
    KEYS[2] allocation log stream
    KEYS[3] outbox stream
  Output:
    {meta (field, value...), last log id or "", last outbox id or ""}
    ({} for meta when the list is gone)
]]
local function last_id(key)
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  return last[1] and last[1][1] or ''
end
return {redis.call('HGETALL', KEYS[1]), last_id(KEYS[2]), last_id(KEYS[3])}
