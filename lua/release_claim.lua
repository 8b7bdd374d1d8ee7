--[[
  Free a (partner, tag) held by a list that was archived or deleted (or never created): the
  last step of archiving or deleting it. A confirmed claim also takes the list off its
  partner's count. A claim held by another list is left alone.
  Input:
    KEYS[1] partner hash
    KEYS[2] claims hash of the partner
    ARGV[1] claim field
    ARGV[2] list id
  Output:
    {0, freed}   freed: 1 when the list held the claim, 0 when it did not
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
  return {0, 0}
end
rcall('HDEL', claimsKey, ARGV[1])
if deadline == '' then -- confirmed: it was counted
  rcall('HINCRBY', partnerKey, 'lists', -1)
end
return {0, 1}
