--[[
  Hand out codes, exactly once, for a batch of requests to one list, in one atomic step. For
  each request in order: replay by idempotency scope; then check the list, the campaign link,
  the status and expiry (server time) and the stock; SPOP a code; write its issued record, the
  idempotency entry, the counters, the allocation log, the by-user index and the outbox event,
  plus Voucher List Low / Exhausted when this allocation crosses the threshold or takes the
  last code. A request later in the batch sees what earlier ones did (a repeat replays).
  Input:
    KEYS[1] meta hash
    KEYS[2] avail set
    KEYS[3] issued hash (code -> "user\ncampaign\nissued_at ms\nevent id\nsource\nscope": the
            record holds everything the idem and by-user entries say, so they can be rebuilt;
            app/store/records.py reads and writes the same layout)
    KEYS[4] idem hash (scope -> code)
    KEYS[5] links hash
    KEYS[6] outbox stream (field e: the event as JSON, without its id, which is
            "<list id>-<outbox entry id>")
    KEYS[7] allocation log stream (field c: code), in allocation order
    KEYS[8] by-user hash, written in O(1) per code and read a page at a time: user -> the
            user's first code, "<user>\n#" -> how many more, "<user>\n<i>" -> the (i+1)th
            (a user id holds no "\n")
    ARGV[1] list id
    ARGV[2 + 4i .. 5 + 4i] request i: campaign id, user id (no control characters), source,
            idempotency scope ("k:<key>" with an Idempotency-Key, else "u:<campaign>\n<user>")
  Output:
    {waiting, result...}: waiting = outbox entries before the batch (0: the relay must be told),
    then four values per request:
      0, code, issuedAt, eventId             allocated now
      1, code, issuedAt, eventId\nsource     a replay of the scope's allocation
     -4, -, -, -                     no such list
    -14, -, -, -                     the key was used with another campaign or user
    -15, -, -, -                     the campaign is not linked to the list
    -16, status, -, -                the list is not active (status: effective)
    -17, -, -, -                     no code left
]]
-- @include list_status
local metaKey, availKey, issuedKey, idemKey, linksKey, outboxKey, logKey, byUserKey = KEYS[1],
  KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local listId = ARGV[1]
local rcall = redis.call

local now = server_ms()
local status = effective_status(metaKey, now)
local meta = rcall('HMGET', metaKey, 'partner', 'name', 'description', 'codes_uploaded',
  'low_stock_threshold', 'codes_distributed')
local threshold = tonumber(meta[5])
local distributed = tonumber(meta[6]) or 0
local handedOut = 0 -- by this batch: one HINCRBY at the end
local linked = {} -- campaign -> linked?, looked up once per batch

local stamp = string.format('%d', now)
local enc = cjson.encode
-- The reward event as JSON, built by concatenation: the parts that are the same for the
-- whole batch are encoded once.
local rewardHead = '{"name":"Partner Voucher Rewarded","timestamp":"' .. stamp ..
  '","user_id":'
local rewardList = ',"codeDescription":' .. enc(meta[3] or '') .. ',"codeProvider":' ..
  enc(meta[1] or '') .. ',"codeSnippetName":' .. enc(meta[2] or '') .. ',"voucherListID":' ..
  enc(listId)

local function stock_event(name, available)
  rcall('XADD', outboxKey, '*', 'e', enc({
    name = name, timestamp = stamp, user_id = cjson.null,
    properties = {voucherListID = listId, codesAvailable = available,
      lowStockThreshold = threshold or cjson.null}}))
end

local function record_of(code)
  local parts = {}
  for part in string.gmatch(rcall('HGET', issuedKey, code), '([^\n]*)\n?') do
    parts[#parts + 1] = part
  end
  return parts
end

local function is_linked(campaign)
  local known = linked[campaign]
  if known == nil then
    known = rcall('HEXISTS', linksKey, campaign) == 1
    linked[campaign] = known
  end
  return known
end

local function allocate(campaign, user, source, scope)
  -- 1. replay: the scope's earlier allocation, whatever the list's state is now
  local previous = rcall('HGET', idemKey, scope)
  if previous then
    local rec = record_of(previous)
    if rec[1] ~= user or rec[2] ~= campaign then
      return -14, '', '', ''
    end
    return 1, previous, rec[3], rec[4] .. '\n' .. rec[5]
  end
  -- 2. the list, 3. the campaign link, 4. the status and expiry
  if not status then
    return -4, '', '', ''
  end
  if not is_linked(campaign) then
    return -15, '', '', ''
  end
  if status ~= 'active' then
    return -16, status, '', ''
  end
  -- 5. the stock
  local code = rcall('SPOP', availKey)
  if not code then
    return -17, '', '', ''
  end
  handedOut = handedOut + 1
  local available = tonumber(meta[4]) - distributed - handedOut
  local eventId = listId .. '-' .. rcall('XADD', outboxKey, '*', 'e', rewardHead .. enc(user) ..
    ',"properties":{"campaignID":' .. enc(campaign) .. ',"source":' .. enc(source) ..
    ',"voucherCode":' .. enc(code) .. rewardList .. '}}')
  rcall('HSET', issuedKey, code,
    table.concat({user, campaign, now, eventId, source, scope}, '\n'))
  rcall('HSET', idemKey, scope, code)
  rcall('XADD', logKey, '*', 'c', code)
  if rcall('HSETNX', byUserKey, user, code) == 0 then -- the user's second code or more
    rcall('HSET', byUserKey, user .. '\n' .. rcall('HINCRBY', byUserKey, user .. '\n#', 1), code)
  end
  if threshold and available == threshold then
    stock_event('Voucher List Low', available)
  end
  if available == 0 then
    stock_event('Voucher List Exhausted', 0)
  end
  return 0, code, now, eventId
end

local reply = {rcall('XLEN', outboxKey)}
for i = 2, #ARGV, 4 do
  local a, b, c, d = allocate(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  reply[#reply + 1] = a
  reply[#reply + 1] = b
  reply[#reply + 1] = c
  reply[#reply + 1] = d
end
if handedOut > 0 then
  rcall('HINCRBY', metaKey, 'codes_distributed', handedOut)
end
return reply
