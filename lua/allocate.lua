--[[
  Hand out codes, exactly once, for a batch of requests to one list, in one atomic step. For
  each request in order: replay by idempotency scope; then check the list, the campaign link,
  the status and expiry (server time) and the stock; take a code; write its issued record, the
  idempotency entry, the counters, the allocation log, the by-user index and the outbox event,
  plus Voucher List Low / Exhausted when this allocation crosses the threshold or takes the
  last code. A request later in the batch sees what earlier ones did (a repeat replays).
  The outcome is exactly that of the requests one after another, but everything is read and
  written for the whole batch, in one command each (no command per code): one HMGET of the
  by-user index's first codes, one of the scopes, one of the records replays need, one SPOP
  of as many codes as the batch takes, one HMGET of the by-user counts, one HSET each of
  issued, idem and by-user, one XADD each of the outbox and the allocation log (ranged
  entries, see includes/ranges.lua: one entry holds the batch's events, or its codes, each
  at a position of its own). Bounded: a few values per request of the batch, which the
  caller keeps to a few hundred (64 coalesced requests, 250 items of a bulk call).
  Input:
    KEYS[1] meta hash (also: outbox_last, log_last, the streams' last positions)
    KEYS[2] avail set
    KEYS[3] issued hash (code -> "user\ncampaign\nissued_at ms\nevent id\nsource\nscope": the
            record holds everything the idem and by-user entries say, so they can be rebuilt;
            app/store/records.py reads and writes the same layout)
    KEYS[4] idem hash (scope -> code), but for a user's first code taken without a key,
            which the by-user index names (the replay check reads its record's scope)
    KEYS[5] links hash
    KEYS[6] outbox stream, ranged (field e: the events, one a line, each without its id,
            which is "<list id>-<the event's position>"; field h: what the batch's reward
            events share, JSON {timestamp, codeDescription, codeProvider, codeSnippetName,
            voucherListID}); a reward event is the line "\t<user>\t<campaign>\t<source>\t
            <code>" (none of them holds a tab or a newline), any other event a JSON line;
            app/domain/events.py json_lines makes them JSON
    KEYS[7] allocation log stream, ranged (field c: the codes), in allocation order
    KEYS[8] by-user hash, written in O(1) per code and read a page at a time: user -> the
            user's first code, "<user>\n#" -> how many more, "<user>\n<i>" -> the (i+1)th
            (a user id holds no "\n")
    ARGV[1] list id
    ARGV[2] n, how many requests
    ARGV[3] k, how many (campaign id, source) pairs the requests use
    ARGV[4 .. 3 + 2k] the pairs
    ARGV[4 + 2k] the requests' user ids, joined by "\n" (a user id holds no control character)
    ARGV[5 + 2k] their idempotency keys, joined by "\n" ("" for none; a key holds no control
            character)
    ARGV[6 + 2k] with k > 1: the numbers of their pairs (1 to k), joined by "\n"
    (Three joined values rather than three per request: Redis and the caller then handle a
    few arguments a call.) A request's idempotency scope is "k:<key>" with a key, else
    "u:<campaign>\n<user>".
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
-- @include ranges
local metaKey, availKey, issuedKey, idemKey, linksKey, outboxKey, logKey, byUserKey = KEYS[1],
  KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local listId = ARGV[1]
local rcall = redis.call

local now = server_ms()
local status = effective_status(metaKey, now)
local meta = rcall('HMGET', metaKey, 'partner', 'name', 'description', 'codes_uploaded',
  'low_stock_threshold', 'codes_distributed', 'outbox_last', 'log_last')
local threshold = tonumber(meta[5])
local distributed = tonumber(meta[6]) or 0
local handedOut = 0 -- by this batch

local stamp = string.format('%d', now)
local enc = cjson.encode

local events = {} -- the batch's events, in order, as JSON lines: one outbox entry
local function stock_event(name, available)
  events[#events + 1] = (enc({
    name = name, timestamp = stamp, user_id = cjson.null,
    properties = {voucherListID = listId, codesAvailable = available,
      lowStockThreshold = threshold or cjson.null}}))
end

local function split_record(raw)
  local parts = {}
  for part in string.gmatch(raw, '([^\n]*)\n?') do
    parts[#parts + 1] = part
  end
  return parts
end

-- The n values joined by "\n" in `joined`.
local function split_n(joined, n)
  local parts, at = {}, 1
  for i = 1, n - 1 do
    local nl = string.find(joined, '\n', at, true)
    parts[i] = string.sub(joined, at, nl - 1)
    at = nl + 1
  end
  parts[n] = string.sub(joined, at)
  return parts
end

local n, k = tonumber(ARGV[2]), tonumber(ARGV[3])
local campaigns, sources, scopes = {}, {}, {} -- request i's
local users = split_n(ARGV[4 + 2 * k], n)
local idemKeys = split_n(ARGV[5 + 2 * k], n)
local pairOf = k > 1 and split_n(ARGV[6 + 2 * k], n)
for i = 1, n do
  local pair = pairOf and tonumber(pairOf[i]) or 1
  local campaign, key = ARGV[2 + 2 * pair], idemKeys[i]
  campaigns[i], sources[i] = campaign, ARGV[3 + 2 * pair]
  scopes[i] = key ~= '' and 'k:' .. key or 'u:' .. campaign .. '\n' .. users[i]
end

-- Pass 1: each request's fate but the stock, in order: 'stored' (a replay of an earlier
-- batch's allocation), 'again' (a replay of this batch's earlier request with the scope),
-- 'clash' (the scope of an earlier request of this batch, with another user or campaign),
-- 'refused' (with its code), or, in `take` rather than `fate`, the number of a request
-- that wants a code (the takers are numbered in order).
-- The batch's unpacks hold at most four values per request, and a batch at most MAX_BATCH
-- (1,000) requests (app/store/allocations.py refuses more).
-- The by-user index before this batch: each user's first code (false: none yet).
local userFields, firstCode = {}, {}
for i = 1, n do
  if firstCode[users[i]] == nil then
    firstCode[users[i]] = false
    userFields[#userFields + 1] = users[i]
  end
end
-- bounded: a user each
local userNow = n > 0 and rcall('HMGET', byUserKey, unpack(userFields)) or {}
for j, user in ipairs(userFields) do
  firstCode[user] = userNow[j] or false
end

-- Replays. A scope's code is in idem, but for a user's first code taken without a key: its
-- scope ("u:<campaign>\n<user>") is then that of the code the by-user index names first, as
-- its record says (so a new user costs no idem entry).
local stored = n > 0 and rcall('HMGET', idemKey, unpack(scopes)) or {} -- bounded: a scope each
local lookup, looked = {}, {}
for i = 1, n do
  local code = stored[i] or (string.byte(scopes[i]) == 117 and firstCode[users[i]]) -- 'u'
  if code and not looked[code] then
    looked[code] = true
    lookup[#lookup + 1] = code
  end
end
local lookedRaw = #lookup > 0 and rcall('HMGET', issuedKey, unpack(lookup)) or {} -- bounded: a code per request
local raws, storedRec = {}, {}
for j, code in ipairs(lookup) do
  raws[code] = lookedRaw[j]
end
for i = 1, n do
  local scope = scopes[i]
  if not stored[i] and string.byte(scope) == 117 then
    local first = firstCode[users[i]]
    local raw = first and raws[first]
    if raw and string.sub(raw, -#scope - 1) == '\n' .. scope then -- the record's last part
      stored[i] = first
    end
  end
  if stored[i] and not storedRec[stored[i]] then
    storedRec[stored[i]] = split_record(raws[stored[i]])
  end
end

local fate, take = {}, {}
local firstOf = {} -- scope -> the request of this batch that took (or tried to take) a code
local takers = 0
local linked = {} -- campaign -> linked?, looked up once per batch
for i = 1, n do
  local campaign, user, scope = campaigns[i], users[i], scopes[i]
  local earlier = firstOf[scope]
  if stored[i] then
    local rec = storedRec[stored[i]]
    if rec[1] ~= user or rec[2] ~= campaign then
      fate[i] = {'refused', -14}
    else
      fate[i] = {'stored', stored[i], rec}
    end
  elseif earlier then
    if users[earlier] ~= user or campaigns[earlier] ~= campaign then
      if linked[campaign] == nil then
        linked[campaign] = rcall('HEXISTS', linksKey, campaign) == 1
      end
      fate[i] = {'clash', earlier, linked[campaign]}
    else
      fate[i] = {'again', earlier}
    end
  elseif not status then
    fate[i] = {'refused', -4}
  else
    if linked[campaign] == nil then
      linked[campaign] = rcall('HEXISTS', linksKey, campaign) == 1
    end
    if not linked[campaign] then
      fate[i] = {'refused', -15}
    elseif status ~= 'active' then
      fate[i] = {'refused', -16}
    else
      takers = takers + 1
      take[i] = takers
      firstOf[scope] = i
    end
  end
end

-- The stock: one SPOP for every taker; the first takers in order get them.
local codes = takers > 0 and rcall('SPOP', availKey, takers) or {}

-- How many more codes than the first each user who had one and gets one now has.
local userHas, userMore, countFields, counted = {}, {}, {}, {}
for _, user in ipairs(userFields) do
  userHas[user] = firstCode[user] ~= false
end
for i = 1, n do
  local user = users[i]
  if take[i] and take[i] <= #codes and userHas[user] and userMore[user] == nil then
    userMore[user] = 0
    counted[#counted + 1] = user
    countFields[#countFields + 1] = user .. '\n#'
  end
end
-- bounded: one field per user of the batch who had a code
local counts = #countFields > 0 and rcall('HMGET', byUserKey, unpack(countFields)) or {}
for j, user in ipairs(counted) do
  userMore[user] = tonumber(counts[j]) or 0
end

-- Pass 2: in order, hand out and write the events; each taker that got a code remembers
-- its event's index among the batch's events.
-- (Tables are filled through counters: `#t` costs a search each time.)
local issuedNow, idemNow, byUserNow, logged = {}, {}, {}, {}
local nIdem, nByUser = 0, 0
local gotCode, gotEvent = {}, {} -- request i's code and its event's index
local stock = (tonumber(meta[4]) or 0) - distributed -- codes left before the batch
local got = #codes
for i = 1, n do
  local t = take[i]
  if t and t <= got then
    local user, scope = users[i], scopes[i]
    local code = codes[t]
    handedOut = handedOut + 1
    local available = stock - handedOut
    local e = #events + 1
    events[e] = '\t' .. user .. '\t' .. campaigns[i] .. '\t' .. sources[i] .. '\t' .. code
    logged[handedOut] = code
    if string.byte(scope) ~= 117 or userHas[user] then -- not a first code without a key
      idemNow[nIdem + 1], idemNow[nIdem + 2] = scope, code
      nIdem = nIdem + 2
    end
    if not userHas[user] then -- the user's first code
      userHas[user], userMore[user] = true, 0
      byUserNow[nByUser + 1], byUserNow[nByUser + 2] = user, code
      nByUser = nByUser + 2
    else
      local more = userMore[user] + 1
      userMore[user] = more
      byUserNow[nByUser + 1], byUserNow[nByUser + 2] = user .. '\n' .. more, code
      byUserNow[nByUser + 3], byUserNow[nByUser + 4] = user .. '\n#', more
      nByUser = nByUser + 4
    end
    gotCode[i], gotEvent[i] = code, e
    if threshold and available == threshold then
      stock_event('Voucher List Low', available)
    end
    if available == 0 then
      stock_event('Voucher List Exhausted', 0)
    end
  end
end

local reply = {rcall('XLEN', outboxKey)}
local eventMs, eventSeq = 0, 0
if handedOut > 0 then
  local outboxLast
  -- what the batch's reward events share, encoded once
  local header = enc({timestamp = stamp, codeDescription = meta[3] or '',
    codeProvider = meta[1] or '', codeSnippetName = meta[2] or '', voucherListID = listId})
  eventMs, eventSeq, outboxLast = add_entry(outboxKey, meta[7], now, #events, 'e',
    table.concat(events, '\n'), 'h', header)
  local logLast = select(3, add_range(logKey, 'c', logged, meta[8], now))
  -- bounded: two to four values per code this batch handed out
  if nIdem > 0 then
    rcall('HSET', idemKey, unpack(idemNow))
  end
  rcall('HSET', byUserKey, unpack(byUserNow))
  rcall('HSET', metaKey, 'codes_distributed', distributed + handedOut, 'outbox_last',
    outboxLast, 'log_last', logLast)
end
local prefix = listId .. '-' .. string.format('%d', eventMs) .. '-'
local function event_id(e)
  return prefix .. (eventSeq + e - 1) -- a sequence number (far below 10^14): its digits
end

-- Pass 3: the answers, in order, and the issued records (which hold the event ids).
local nReply, nIssued = 1, 0
local function answer(a, b, c, d)
  reply[nReply + 1], reply[nReply + 2], reply[nReply + 3], reply[nReply + 4] = a, b, c, d
  nReply = nReply + 4
end
local taker = {} -- the fate of a request in `take`
for i = 1, n do
  local f = fate[i] or taker
  local code = gotCode[i]
  if code then
    local eventId = event_id(gotEvent[i])
    issuedNow[nIssued + 1] = code
    issuedNow[nIssued + 2] = users[i] .. '\n' .. campaigns[i] .. '\n' .. stamp .. '\n' ..
      eventId .. '\n' .. sources[i] .. '\n' .. scopes[i]
    nIssued = nIssued + 2
    answer(0, code, now, eventId)
  elseif f[1] == 'stored' then
    answer(1, f[2], f[3][3], f[3][4] .. '\n' .. f[3][5])
  elseif f[1] == 'again' then
    local earlier = f[2]
    if gotCode[earlier] then
      answer(1, gotCode[earlier], stamp, event_id(gotEvent[earlier]) .. '\n' .. sources[earlier])
    else
      answer(-17, '', '', '') -- its first request found no code either
    end
  elseif f[1] == 'clash' then
    -- the key's code belongs to another user or campaign; or, when the earlier request found
    -- no code, this one is checked as a new request would be, and finds none either
    answer(gotCode[f[2]] and -14 or (f[3] and -17 or -15), '', '', '')
  elseif f[1] == 'refused' then
    answer(f[2], f[2] == -16 and status or '', '', '')
  else
    answer(-17, '', '', '') -- a taker that found no code
  end
end
if handedOut > 0 then
  rcall('HSET', issuedKey, unpack(issuedNow)) -- bounded: two values per code handed out
end
return reply
