--[[
  A list's record and the time it was read at, on the server that judges its status.
  Input:
    KEYS[1] meta hash
  Output:
    {now, meta}   now: epoch milliseconds; meta: field, value... ({} for no such list)
]]
-- @include clock
return {server_ms(), redis.call('HGETALL', KEYS[1])}
