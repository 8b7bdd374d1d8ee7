--[[
  Claim a (partner, tag) for a list about to be created: the first of the three steps that
  create a list (claim here, create on the list's slot, confirm here). The claim is pending
  until confirmed; one whose deadline has passed may be settled by any process
  (app/store/claims.py). A (partner, tag) is held by at most one list at a time.
  Input:
    KEYS[1] partner hash
    KEYS[2] claims hash of the partner: "<partner>\n<tag>" -> "<list id>" (confirmed) or
            "<list id> <deadline ms>" (pending)
    ARGV[1] claim field
    ARGV[2] list id
    ARGV[3] lease, milliseconds: the pending claim's deadline is the server's time plus this
  Output:
    {0}                           claimed, pending
    {-1}                          the partner does not exist
    {-3, holder, deadline, now}   another list holds it: deadline "" for a confirmed claim,
                                  else the pending claim's (ms); now: the server's time
]]
-- @include clock
-- @include claim
local partnerKey, claimsKey = KEYS[1], KEYS[2]
local rcall = redis.call
if rcall('EXISTS', partnerKey) == 0 then
  return {-1}
end
local now = server_ms()
local held = rcall('HGET', claimsKey, ARGV[1])
if held then
  local holder, deadline = read_claim(held)
  return {-3, holder, deadline, now}
end
rcall('HSET', claimsKey, ARGV[1], pending_claim(ARGV[2], now + tonumber(ARGV[3])))
return {0}
