--[[
  Move a list to another status (pause, activate, archive) when its status allows it.
  Archiving also frees the (partner, tag) claim, stops the list's codes counting for duplicate
  checks (the dedupe set is unlinked) and takes the list off its partner's count.
  Input:
    KEYS[1] meta hash
    KEYS[2] claims hash of the partner's slot
    KEYS[3] partner hash
    KEYS[4] dedupe set
    ARGV[1] statuses the action is allowed from, comma-separated
    ARGV[2] target status
    ARGV[3] claim field, "<partner>\n<tag>"
    ARGV[4] list id
  Output:
    {0, now}                     moved at now (the server's time, the new updated_at)
    {-4}                         no such list
    {-5, status, linkedCount}    the current (effective) status does not allow the action
]]
-- @include list_status
local metaKey, claimsKey, partnerKey, dedupeKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local rcall = redis.call
local now = server_ms()
local refused = guard_status(metaKey, now, ARGV[1])
if refused then
  return refused
end
rcall('HSET', metaKey, 'status', ARGV[2], 'updated_at', now)
if ARGV[2] == 'archived' then
  if rcall('HGET', claimsKey, ARGV[3]) == ARGV[4] then
    rcall('HDEL', claimsKey, ARGV[3])
  end
  rcall('HINCRBY', partnerKey, 'lists', -1)
  rcall('UNLINK', dedupeKey)
end
return {0, now}
