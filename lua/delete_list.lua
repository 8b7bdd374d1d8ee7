--[[
  Delete a list that is not archived and has no linked campaign: every key of the list goes,
  its (partner, tag) claim is freed and its partner's count drops. Its id is never reused.
  Input:
    KEYS[1] meta hash
    KEYS[2] claims hash of the partner's slot
    KEYS[3] partner hash
    KEYS[4] links hash
    KEYS[5..] the list's other keys, all unlinked
    ARGV[1] now, epoch milliseconds
    ARGV[2] statuses delete is allowed from, comma-separated
    ARGV[3] claim field, "<partner>\n<tag>"
    ARGV[4] list id
  Output:
    {0}                          deleted
    {-4}                         no such list
    {-5, status, linkedCount}    the current (effective) status does not allow deleting
    {-6, campaignId...}          campaigns are still linked
]]
-- @include list_status
local metaKey, claimsKey, partnerKey, linksKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local rcall = redis.call
local refused = guard_status(metaKey, tonumber(ARGV[1]), ARGV[2])
if refused then
  return refused
end
local linked = rcall('HKEYS', linksKey)
if #linked > 0 then
  return {-6, unpack(linked)}
end
if rcall('HGET', claimsKey, ARGV[3]) == ARGV[4] then
  rcall('HDEL', claimsKey, ARGV[3])
end
rcall('HINCRBY', partnerKey, 'lists', -1)
rcall('UNLINK', metaKey, linksKey, unpack(KEYS, 5))
return {0}
