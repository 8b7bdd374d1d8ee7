--[[
  The cut of a snapshot for one list, in one atomic step. A small list (its available codes,
  issued records, links and outbox each at most ARGV[1] entries) is read whole here, as it is
  at this instant. A larger one is read in steps first (app/store/snapshots.py); then this
  gives its metadata and the last entries of its allocation log and outbox: the cut.
  Input:
    KEYS[1] meta hash
    KEYS[2] allocation log stream
    KEYS[3] outbox stream
    KEYS[4] avail set
    KEYS[5] issued hash
    KEYS[6] links hash
    KEYS[7] uploads index zset
    ARGV[1] the most entries of each a list may have to be read whole; 0 for the cut alone
  Output:
    {meta, last log id, last outbox id, uploads}: the cut alone (ARGV[1] is 0, or the list
      is larger); meta is field, value...; an id is "" for an empty stream; uploads counts
      the list's uploads
    {meta, last log id, last outbox id, uploads, avail, issued, links, outbox}: the whole
      small list; avail is its codes, issued and links field, value..., outbox entry id,
      header, events... (as read_outbox.lua gives them)
    ({} for meta when the list is gone)
]]
local metaKey, logKey, outboxKey, availKey, issuedKey, linksKey, uploadsKey = KEYS[1],
  KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local rcall = redis.call
local most = tonumber(ARGV[1])

local function last_id(key)
  local last = rcall('XREVRANGE', key, '+', '-', 'COUNT', 1)
  return last[1] and last[1][1] or ''
end

local cut = {rcall('HGETALL', metaKey), last_id(logKey), last_id(outboxKey),
  rcall('ZCARD', uploadsKey)}
if most == 0 or rcall('SCARD', availKey) > most or rcall('HLEN', issuedKey) > most or
    rcall('HLEN', linksKey) > most or rcall('XLEN', outboxKey) > most then
  return cut
end
local outbox = {}
for _, entry in ipairs(rcall('XRANGE', outboxKey, '-', '+')) do
  outbox[#outbox + 1] = entry[1]
  outbox[#outbox + 1] = entry[2][4] or '' -- fields e, h (before ranges, e alone)
  outbox[#outbox + 1] = entry[2][2]
end
cut[5] = rcall('SMEMBERS', availKey)
cut[6] = rcall('HGETALL', issuedKey)
cut[7] = rcall('HGETALL', linksKey)
cut[8] = outbox
return cut
