--[[
  One step of relaying a list's outbox: drop the entries the previous step copied into the
  global stream, then read the next page, flat, so the relay passes it on without unpacking
  each entry. With replica acknowledgements on, it also writes the list's relay mark, so that
  the WAIT sent with this call covers every write before it: the page is copied into the stream
  only once replicas have the allocations it tells of (an event of an allocation that a
  failover lost would announce a code that is handed out again).
  Input:
    KEYS[1] the list's outbox stream
    KEYS[2] the list's relay mark (string: the last entry read)
    ARGV[1] the id of the last entry the previous step copied, or "" for none
    ARGV[2] entries to read
    ARGV[3] "1" to write the relay mark (replica acknowledgements on), else ""
  Output:
    {id1, header1, events1, id2, ...}: the oldest entries left, at most ARGV[2]; an entry
      holds a batch's events, a line each, at the positions from its id on
      (includes/ranges.lua), and the header of its reward events ("" for an entry without;
      lua/allocate.lua says how they are written)
]]
local outboxKey, markKey = KEYS[1], KEYS[2]
local last = ARGV[1]
if last ~= '' then
  -- exact MINID trim (not "~": an approximate one leaves copied entries to be copied again)
  local ms, seq = string.match(last, '^(%d+)-(%d+)$')
  redis.call('XTRIM', outboxKey, 'MINID', ms .. '-' .. string.format('%d', tonumber(seq) + 1))
end
local flat = {}
for _, entry in ipairs(redis.call('XRANGE', outboxKey, '-', '+', 'COUNT', ARGV[2])) do
  flat[#flat + 1] = entry[1]
  flat[#flat + 1] = entry[2][4] or '' -- fields e, h (before ranges, e alone)
  flat[#flat + 1] = entry[2][2]
end
if ARGV[3] == '1' then
  redis.call('SET', markKey, flat[#flat - 2] or last)
end
return flat
