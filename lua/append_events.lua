--[[
  Append relayed events to the global event stream, keeping about the newest ARGV[3], if the
  caller still holds the relay lease (fenced: a relay that paused past its lease and lost it
  to another process cannot append a stale page after the other's). The lease is extended.
  The lease key, the stream and its meta share a hash tag: one atomic step on one slot.
  The stream is ranged (includes/ranges.lua): each outbox entry (a batch's events) becomes one
  entry, whose positions follow the stream's last one, with fields id (the first event's id;
  the event at the entry's i-th position has the id "<list id>-<ms>-<seq + i>"), n (how many
  events), h and e (the outbox entry's header and events, as lua/allocate.lua writes them).
  An entry without n (written before ranges) holds one event.
  Retention: the meta's count is how many events the stream holds; the oldest entries are
  trimmed while what is left still holds ARGV[3], at most TRIM_STEPS entries a call (a
  lowered retention is reached over several calls).
  Input:
    KEYS[1] global event stream
    KEYS[2] the relay lease (string: the holder's token)
    KEYS[3] the stream's meta (hash: last = the last position, count = events held)
    ARGV[1] the caller's lease token
    ARGV[2] lease, milliseconds
    ARGV[3] events to retain (at least that many are kept)
    ARGV[4] the list id
    ARGV[5..] per outbox entry, in order: its id, its number of events, its header and its
            events (as read_outbox.lua returns them); the entry's ids are its list positions
  Output:
    {0, appended}   the number of events appended
    {-8}            the caller does not hold the lease: nothing appended
]]
-- @include clock
-- @include ranges
local TRIM_STEPS = 200
local eventsKey, leaseKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local rcall = redis.call
if rcall('GET', leaseKey) ~= ARGV[1] then
  return {-8}
end
rcall('PEXPIRE', leaseKey, ARGV[2])
local retain, prefix = tonumber(ARGV[3]), ARGV[4] .. '-'
local meta = rcall('HMGET', metaKey, 'last', 'count')
local last, count = meta[1], tonumber(meta[2])
if not count then -- a stream written before ranges: an event per entry
  count = rcall('XLEN', eventsKey)
end
local now = server_ms()
local appended = 0
for i = 5, #ARGV, 4 do
  local n = tonumber(ARGV[i + 1])
  last = select(3, add_entry(eventsKey, last, now, n, 'id', prefix .. ARGV[i], 'n', n, 'h',
    ARGV[i + 2], 'e', ARGV[i + 3]))
  appended = appended + n
end
count = count + appended

local steps = 0
while count > retain and steps < TRIM_STEPS do
  local oldest = rcall('XRANGE', eventsKey, '-', '+', 'COUNT', 1)[1]
  if not oldest then
    count = 0
    break
  end
  local held, fields = 1, oldest[2]
  for j = 1, #fields, 2 do
    if fields[j] == 'n' then
      held = tonumber(fields[j + 1])
    end
  end
  if count - held < retain then
    break
  end
  local ms, seq = string.match(oldest[1], '^(%d+)-(%d+)$')
  rcall('XTRIM', eventsKey, 'MINID', ms .. '-' .. string.format('%d', tonumber(seq) + 1))
  count = count - held
  steps = steps + 1
end
if last then
  rcall('HSET', metaKey, 'last', last, 'count', count)
end
return {0, appended}
