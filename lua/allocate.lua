--[[
  Hand out one code, exactly once, in one atomic step: replay by idempotency scope, then check
  the list, the campaign link, the status and expiry (server time) and the stock; SPOP a code;
  write its issued record, the idempotency entry, the counters, the allocation log, the user
  index and the outbox event, plus Voucher List Low / Exhausted when this allocation crosses
  the threshold or takes the last code.
  Input:
    KEYS[1] meta hash
    KEYS[2] avail set
    KEYS[3] issued hash (code -> "user\ncampaign\nissued_at ms\nevent id\nsource")
    KEYS[4] idem hash (scope -> code)
    KEYS[5] links hash
    KEYS[6] outbox stream
    KEYS[7] allocation log stream (field c: code), in allocation order
    KEYS[8] users hash (user -> codes separated by "\n")
    ARGV[1] list id
    ARGV[2] campaign id
    ARGV[3] user id (no control characters)
    ARGV[4] source
    ARGV[5] idempotency scope: "k:<key>" with an Idempotency-Key, else "u:<campaign>\n<user>"
  Output:
    {0, code, issuedAt, eventId, waiting}     allocated now (waiting: outbox entries before
                                              this one; 0 means the relay must be told)
    {1, code, issuedAt, eventId, source}      a replay of this scope's allocation
    {-4}                                      no such list
    {-14}                                     the key was used with another campaign or user
    {-15}                                     the campaign is not linked to the list
    {-16, status}                             the list is not active (status: effective)
    {-17}                                     no code left
]]
-- @include list_status
local metaKey, availKey, issuedKey, idemKey, linksKey, outboxKey, logKey, usersKey = KEYS[1],
  KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local listId, campaign, user, source, scope = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local rcall = redis.call

local function split(record)
  local parts = {}
  for part in string.gmatch(record, '([^\n]*)\n?') do
    parts[#parts + 1] = part
  end
  return parts
end

-- 1. replay: the scope's earlier allocation, whatever the list's state is now
local previous = rcall('HGET', idemKey, scope)
if previous then
  local rec = split(rcall('HGET', issuedKey, previous))
  if rec[1] ~= user or rec[2] ~= campaign then
    return {-14}
  end
  return {1, previous, rec[3], rec[4], rec[5]}
end

-- 2. the list, 3. the campaign link, 4. the status and expiry
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local status = effective_status(metaKey, now)
if not status then
  return {-4}
end
if rcall('HEXISTS', linksKey, campaign) == 0 then
  return {-15}
end
if status ~= 'active' then
  return {-16, status}
end

-- 5. the stock
local code = rcall('SPOP', availKey)
if not code then
  return {-17}
end

local meta = rcall('HMGET', metaKey, 'partner', 'name', 'description', 'codes_uploaded',
  'codes_distributed', 'low_stock_threshold')
local distributed = rcall('HINCRBY', metaKey, 'codes_distributed', 1)
local waiting = rcall('XLEN', outboxKey)
local available = tonumber(meta[4]) - distributed
local eventId = listId .. '-' .. rcall('XADD', outboxKey, '*',
  'name', 'Partner Voucher Rewarded', 'timestamp', now, 'user_id', user,
  'campaignID', campaign, 'codeDescription', meta[3], 'codeProvider', meta[1],
  'codeSnippetName', meta[2], 'source', source, 'voucherCode', code, 'voucherListID', listId)
rcall('HSET', issuedKey, code, table.concat({user, campaign, now, eventId, source}, '\n'))
rcall('HSET', idemKey, scope, code)
rcall('XADD', logKey, '*', 'c', code)
local mine = rcall('HGET', usersKey, user)
rcall('HSET', usersKey, user, mine and (mine .. '\n' .. code) or code)

local threshold = tonumber(meta[6])
if threshold and available == threshold then
  rcall('XADD', outboxKey, '*', 'name', 'Voucher List Low', 'timestamp', now,
    'voucherListID', listId, 'codesAvailable', available, 'lowStockThreshold', threshold)
end
if available == 0 then
  rcall('XADD', outboxKey, '*', 'name', 'Voucher List Exhausted', 'timestamp', now,
    'voucherListID', listId, 'codesAvailable', 0, 'lowStockThreshold', meta[6])
end
return {0, code, now, eventId, waiting}
