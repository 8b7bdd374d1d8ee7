--[[
  Link a campaign to a list whose status allows it; idempotent (an existing link answers
  with its original linked_at).
  Input:
    KEYS[1] meta hash
    KEYS[2] links hash, campaign id -> linked_at ms (the server's time when linked)
    KEYS[3] link index zset: campaign ids, score 0, in byte order (for paging)
    ARGV[1] statuses that allow linking, comma-separated
    ARGV[2] campaign id
  Output:
    {0, linkedAt}                linked now or before
    {-4}                         no such list
    {-5, status, linkedCount}    the current (effective) status does not allow linking
]]
-- @include list_status
local metaKey, linksKey, linkIndexKey = KEYS[1], KEYS[2], KEYS[3]
local rcall = redis.call
local now = server_ms()
local refused = guard_status(metaKey, now, ARGV[1])
if refused then
  return refused
end
local linkedAt = rcall('HGET', linksKey, ARGV[2])
if linkedAt then
  return {0, linkedAt}
end
rcall('HSET', linksKey, ARGV[2], now)
rcall('ZADD', linkIndexKey, 0, ARGV[2])
rcall('HINCRBY', metaKey, 'linked_campaigns', 1)
return {0, now}
