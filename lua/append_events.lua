--[[
  Append relayed events to the global event stream, keeping about the newest ARGV[3], if the
  caller still holds the relay lease (fenced: a relay that paused past its lease and lost it
  to another process cannot append a stale page after the other's). The lease is extended.
  The lease key and the stream share a hash tag, so this is one atomic step on one slot.
  (One call per page of an outbox, up to 500 events: one round trip, where an XADD per event
  would cost one command each to send.)
  Input:
    KEYS[1] global event stream
    KEYS[2] the relay lease (string: the holder's token)
    ARGV[1] the caller's lease token
    ARGV[2] lease, milliseconds
    ARGV[3] events to retain (approximate trim)
    ARGV[4] the list id
    ARGV[5..] event position, event JSON pairs (the relay splits read_outbox.lua's entries
            into them); the event's id is "<list id>-<position>"
  Output:
    {0, appended}   the number of events appended
    {-8}            the caller does not hold the lease: nothing appended
]]
local eventsKey, leaseKey = KEYS[1], KEYS[2]
local rcall = redis.call
if rcall('GET', leaseKey) ~= ARGV[1] then
  return {-8}
end
rcall('PEXPIRE', leaseKey, ARGV[2])
local retain, prefix = ARGV[3], ARGV[4] .. '-'
local n = 0
for i = 5, #ARGV, 2 do
  rcall('XADD', eventsKey, 'MAXLEN', '~', retain, '*', 'id', prefix .. ARGV[i], 'e', ARGV[i + 1])
  n = n + 1
end
return {0, n}
