--[[
  Delete a list that is not archived and has no linked campaign: its keys go; its id is never
  reused. Freeing its (partner, tag) is the next step, on the partner's slot
  (release_claim.lua). Its upload records are left for the caller to unlink afterwards, a
  page at a time (with no list left, nothing can write to them), so this step costs the same
  however many uploads the list had.
  Input:
    KEYS[1] meta hash
    KEYS[2] links hash
    KEYS[3] link index zset (campaign ids in byte order)
    KEYS[4] outbox stream (its events must have been relayed)
    KEYS[5..] the list's other keys, all unlinked (the uploads index is not among them)
    ARGV[1] statuses delete is allowed from, comma-separated
    ARGV[2] most linked campaign ids to name in a refusal
  Output:
    {0}                              deleted
    {-4}                             no such list
    {-5, status, linkedCount}        the current (effective) status does not allow deleting
    {-6, linkedCount, campaignId...} campaigns are still linked (the first ARGV[2] by id)
    {-18}                            events wait in the outbox for the relay: retry shortly
]]
-- @include list_status
local metaKey, linksKey, linkIndexKey, outboxKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local rcall = redis.call
local refused = guard_status(metaKey, server_ms(), ARGV[1])
if refused then
  return refused
end
local linked = rcall('HLEN', linksKey)
if linked > 0 then
  local reply = rcall('ZRANGE', linkIndexKey, 0, tonumber(ARGV[2]) - 1)
  table.insert(reply, 1, linked)
  table.insert(reply, 1, -6)
  return reply
end
if rcall('XLEN', outboxKey) > 0 then
  return {-18}
end
rcall('UNLINK', metaKey, linksKey, linkIndexKey, outboxKey, unpack(KEYS, 5)) -- bounded: a fixed few
return {0}
