--[[
  Remove a campaign's link to a list.
  Input:
    KEYS[1] meta hash
    KEYS[2] links hash
    KEYS[3] link index zset
    ARGV[1] campaign id
  Output:
    {0}    unlinked
    {-4}   no such list
    {-7}   the campaign is not linked to this list
]]
local metaKey, linksKey, linkIndexKey = KEYS[1], KEYS[2], KEYS[3]
local rcall = redis.call
if rcall('EXISTS', metaKey) == 0 then
  return {-4}
end
if rcall('HDEL', linksKey, ARGV[1]) == 0 then
  return {-7}
end
rcall('ZREM', linkIndexKey, ARGV[1])
rcall('HINCRBY', metaKey, 'linked_campaigns', -1)
return {0}
