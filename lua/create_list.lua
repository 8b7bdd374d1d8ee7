--[[
  Create a voucher list and claim its (partner, tag), atomically. The list is active; its
  created_at and updated_at are the server's time.
  Input:
    KEYS[1] partner hash
    KEYS[2] claims hash of the partner's slot
    KEYS[3] the new list's meta hash
    ARGV[1] claim field, "<partner>\n<tag>"
    ARGV[2] list id
    ARGV[3] expires_at, epoch milliseconds (must be after the server's time)
    ARGV[4..] more meta field, value pairs (partner, tag, name, description, threshold)
  Output:
    {0, now}      created at now (epoch milliseconds)
    {-21}         expires_at is not in the future
    {-1}          the partner does not exist
    {-3, listId}  the (partner, tag) is held by the non-archived list listId
]]
-- @include clock
local partnerKey, claimsKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local rcall = redis.call
local now = server_ms()

if tonumber(ARGV[3]) <= now then
  return {-21}
end
if rcall('EXISTS', partnerKey) == 0 then
  return {-1}
end
local holder = rcall('HGET', claimsKey, ARGV[1])
if holder then
  return {-3, holder}
end
rcall('HSET', claimsKey, ARGV[1], ARGV[2])
rcall('HSET', metaKey, 'expires_at', ARGV[3], 'status', 'active', 'created_at', now,
  'updated_at', now, 'codes_uploaded', 0, 'codes_distributed', 0, 'linked_campaigns', 0,
  unpack(ARGV, 4))
rcall('HINCRBY', partnerKey, 'lists', 1)
return {0, now}
