--[[
  Append relayed events to the global event stream, keeping about the newest ARGV[1].
  (One call per page of an outbox: one round trip, where an XADD per event would cost one
  command each to send.)
  Input:
    KEYS[1] global event stream
    ARGV[1] events to retain (approximate trim)
    ARGV[2..] event id, event JSON pairs
  Output:
    the number of events appended
]]
local eventsKey = KEYS[1]
local n = 0
for i = 2, #ARGV, 2 do
  redis.call('XADD', eventsKey, 'MAXLEN', '~', ARGV[1], '*', 'id', ARGV[i], 'e', ARGV[i + 1])
  n = n + 1
end
return n
