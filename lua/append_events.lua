--[[
  Append relayed events to the global event stream, keeping about the newest ARGV[1].
  (One call per page of an outbox: one round trip, where an XADD per event would cost one
  command each to send.)
  Input:
    KEYS[1] global event stream
    ARGV[1] events to retain (approximate trim)
    ARGV[2] the list id
    ARGV[3..] outbox entry id, event JSON pairs (read_outbox.lua's reply); the event's id
            is "<list id>-<outbox entry id>"
  Output:
    the number of events appended
]]
local eventsKey, retain, prefix = KEYS[1], ARGV[1], ARGV[2] .. '-'
local n = 0
for i = 3, #ARGV, 2 do
  redis.call('XADD', eventsKey, 'MAXLEN', '~', retain, '*', 'id', prefix .. ARGV[i], 'e',
    ARGV[i + 1])
  n = n + 1
end
return n
