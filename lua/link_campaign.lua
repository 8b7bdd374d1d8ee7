--[[
  Link a campaign to a list whose status allows it; idempotent (an existing link answers
  with its original linked_at).
  Input:
    KEYS[1] meta hash
    KEYS[2] links hash, campaign id -> linked_at ms
    ARGV[1] now, epoch milliseconds (the new link's linked_at)
    ARGV[2] statuses that allow linking, comma-separated
    ARGV[3] campaign id
  Output:
    {0, linkedAt}                linked now or before
    {-4}                         no such list
    {-5, status, linkedCount}    the current (effective) status does not allow linking
]]
-- @include list_status
local metaKey, linksKey = KEYS[1], KEYS[2]
local rcall = redis.call
local refused = guard_status(metaKey, tonumber(ARGV[1]), ARGV[2])
if refused then
  return refused
end
local linkedAt = rcall('HGET', linksKey, ARGV[3])
if linkedAt then
  return {0, linkedAt}
end
rcall('HSET', linksKey, ARGV[3], ARGV[1])
rcall('HINCRBY', metaKey, 'linked_campaigns', 1)
return {0, ARGV[1]}
