--[[
  Delete a list that is not archived and has no linked campaign: every key of the list goes
  (its upload records too), its (partner, tag) claim is freed and its partner's count drops.
  Its id is never reused.
  Input:
    KEYS[1] meta hash
    KEYS[2] claims hash of the partner's slot
    KEYS[3] partner hash
    KEYS[4] links hash
    KEYS[5] uploads index zset
    KEYS[6] outbox stream (its events must have been relayed)
    KEYS[7..] the list's other keys and every upload record, all unlinked
    ARGV[1] now, epoch milliseconds
    ARGV[2] statuses delete is allowed from, comma-separated
    ARGV[3] claim field, "<partner>\n<tag>"
    ARGV[4] list id
    ARGV[5] how many upload records the caller passed (must equal the index's size)
  Output:
    {0}                          deleted
    {-4}                         no such list
    {-5, status, linkedCount}    the current (effective) status does not allow deleting
    {-6, campaignId...}          campaigns are still linked
    {-13}                        an upload was recorded meanwhile: read the index and retry
    {-18}                        events wait in the outbox for the relay: retry shortly
]]
-- @include list_status
local metaKey, claimsKey, partnerKey, linksKey, uploadsKey, outboxKey = KEYS[1], KEYS[2],
  KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local rcall = redis.call
local refused = guard_status(metaKey, tonumber(ARGV[1]), ARGV[2])
if refused then
  return refused
end
local linked = rcall('HKEYS', linksKey)
if #linked > 0 then
  return {-6, unpack(linked)}
end
if rcall('ZCARD', uploadsKey) ~= tonumber(ARGV[5]) then
  return {-13}
end
if rcall('XLEN', outboxKey) > 0 then
  return {-18}
end
if rcall('HGET', claimsKey, ARGV[3]) == ARGV[4] then
  rcall('HDEL', claimsKey, ARGV[3])
end
rcall('HINCRBY', partnerKey, 'lists', -1)
rcall('UNLINK', metaKey, linksKey, uploadsKey, outboxKey, unpack(KEYS, 7))
return {0}
