--[[
  The one clock: every status is judged, and every time stored, on the Redis server's clock,
  so processes on hosts whose clocks differ all agree.
  server_ms(): the server's time in epoch milliseconds.
]]
local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
