--[[
  A (partner, tag) claim's value: "<list id>" once confirmed, "<list id> <deadline ms>" while
  pending (claim_tag.lua writes it, confirm_claim.lua drops the deadline).
  pending_claim(listId, deadline): the value of a claim pending until `deadline`.
  read_claim(held): the holder's list id and the deadline ("" for a confirmed claim).
]]

local function pending_claim(listId, deadline)
  return listId .. ' ' .. deadline
end

local function read_claim(held)
  return string.match(held, '^(%S+) ?(%d*)$')
end
