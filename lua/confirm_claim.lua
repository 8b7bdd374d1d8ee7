--[[
  Confirm a list's pending claim on its (partner, tag), once the list exists; the partner's
  count of non-archived lists grows by one. Confirming a confirmed claim changes nothing.
  Input:
    KEYS[1] partner hash
    KEYS[2] claims hash of the partner
    ARGV[1] claim field
    ARGV[2] list id
  Output:
    {0}           confirmed (now or before)
    {-3, holder}  another list holds the claim (or none does: holder "")
]]
-- @include claim
local partnerKey, claimsKey = KEYS[1], KEYS[2]
local rcall = redis.call
local held = rcall('HGET', claimsKey, ARGV[1])
local holder, deadline = '', ''
if held then
  holder, deadline = read_claim(held)
end
if holder ~= ARGV[2] then
  return {-3, holder}
end
if deadline ~= '' then -- pending: confirm it
  rcall('HSET', claimsKey, ARGV[1], ARGV[2])
  rcall('HINCRBY', partnerKey, 'lists', 1)
end
return {0}
