--[[
  Create a voucher list and claim its (partner, tag), atomically.
  Input:
    KEYS[1] partner hash
    KEYS[2] claims hash of the partner's slot
    KEYS[3] the new list's meta hash
    ARGV[1] claim field, "<partner>\n<tag>"
    ARGV[2] list id
    ARGV[3..] meta field, value pairs
  Output:
    {0}           created
    {-1}          the partner does not exist
    {-3, listId}  the (partner, tag) is held by the non-archived list listId
]]
local partnerKey, claimsKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local rcall = redis.call

if rcall('EXISTS', partnerKey) == 0 then
  return {-1}
end
local holder = rcall('HGET', claimsKey, ARGV[1])
if holder then
  return {-3, holder}
end
rcall('HSET', claimsKey, ARGV[1], ARGV[2])
rcall('HSET', metaKey, unpack(ARGV, 3))
rcall('HINCRBY', partnerKey, 'lists', 1)
return {0}
