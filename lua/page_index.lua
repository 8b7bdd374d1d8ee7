--[[
  One page of a sorted set whose scores are integers (epoch milliseconds), highest score
  first, ties by member, highest first: the entries strictly after a cursor (the score and
  member of the last entry the previous page showed). Its cost is the page's, whatever the
  set's size: the cursor's entry is found by rank, not by counting an offset.
  Input:
    KEYS[1] sorted set
    ARGV[1] the cursor's score, or "" to start at the top
    ARGV[2] the cursor's member
    ARGV[3] entries to return
  Output:
    {member1, score1, member2, score2, ...}
]]
local key, afterScore, afterMember = KEYS[1], ARGV[1], ARGV[2]
local rcall = redis.call

-- Byte order, as Redis orders members (Lua's own < on strings follows the server's locale).
local function above(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then
      return x > y
    end
  end
  return #a > #b
end

local start = 0
if afterScore ~= '' then
  local score = tonumber(afterScore)
  local current = rcall('ZSCORE', key, afterMember)
  if current and tonumber(current) == score then
    start = rcall('ZREVRANK', key, afterMember) + 1
  else
    -- The cursor's entry moved (updated since) or is gone: start after every entry above the
    -- cursor, that is every higher score and, at its score, every higher member (ties are the
    -- entries of one millisecond: a few).
    start = rcall('ZCOUNT', key, '(' .. afterScore, '+inf')
    for _, member in ipairs(rcall('ZREVRANGEBYSCORE', key, afterScore, afterScore)) do
      if above(member, afterMember) then
        start = start + 1
      end
    end
  end
end
return rcall('ZREVRANGE', key, start, start + tonumber(ARGV[3]) - 1, 'WITHSCORES')
