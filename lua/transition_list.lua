--[[
  Move a list to another status (pause, activate, archive) when its status allows it.
  Archiving also stops the list's codes counting for duplicate checks (the dedupe set is
  unlinked); freeing its (partner, tag) is the next step, on the partner's slot
  (release_claim.lua).
  Input:
    KEYS[1] meta hash
    KEYS[2] dedupe set
    ARGV[1] statuses the action is allowed from, comma-separated
    ARGV[2] target status
  Output:
    {0, now}                     moved at now (the server's time, the new updated_at)
    {-4}                         no such list
    {-5, status, linkedCount}    the current (effective) status does not allow the action
]]
-- @include list_status
local metaKey, dedupeKey = KEYS[1], KEYS[2]
local rcall = redis.call
local now = server_ms()
local refused = guard_status(metaKey, now, ARGV[1])
if refused then
  return refused
end
rcall('HSET', metaKey, 'status', ARGV[2], 'updated_at', now)
if ARGV[2] == 'archived' then
  rcall('UNLINK', dedupeKey)
end
return {0, now}
