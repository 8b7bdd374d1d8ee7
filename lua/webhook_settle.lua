--[[
  One step of a delivery process: record the outcomes of its finished attempts, add its
  counters, and claim due deliveries for the slots it has free.
  An outcome is delivered, failed (for good), or retry after a wait. An attempt whose token is
  no longer the delivery's (its claim lapsed and another process claimed it) changes nothing.
  A delivered delivery's event is dropped from `bodies` (a failed one keeps it for a retry).
  Finished deliveries beyond ARGV[1] per status are dropped, oldest first, up to 100 per
  endpoint and status a step (one command each for the lot).
  A claim moves the delivery's next attempt ARGV[2] ms ahead (longer than an attempt may take)
  and stamps a token, so no other process claims it while this one tries; a process that dies
  mid-attempt leaves it to be claimed again after that. A disabled or deleted endpoint's
  deliveries are not claimed.
  Input:
    KEYS[1] the engine's counters (hash)
    KEYS[2..] per endpoint, 8 keys: endpoint hash, deliveries, due, log, pending, delivered,
            failed, bodies
    ARGV[1] finished deliveries kept per endpoint and status
    ARGV[2] claim lease, ms
    ARGV[3] E, how many endpoints KEYS holds; ARGV[4..3+E] how many to claim of each
    ARGV[4+E] C, how many counters follow; then C pairs: counter name, increment
    then per outcome, 7 values: endpoint number, delivery id, token, outcome ("delivered",
            "failed" or "retry"), the receiver's status code ("" for none), error ("" for
            none), wait before the next attempt, ms (retry only)
  Output:
    {0, recorded, endpoint number, delivery record JSON, event JSON, ...}   the deliveries
                                                                            claimed
]]
-- @include clock
local rcall = redis.call
local now = server_ms()
local keep, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local endpoints = tonumber(ARGV[3])
local counters = tonumber(ARGV[4 + endpoints])
local first = 5 + endpoints
local TRIM = 100
for i = first, first + counters * 2 - 1, 2 do
  rcall('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1])
end

local function base_of(e)
  return 2 + (e - 1) * 8
end

-- A delivery that will not be tried again: out of `due` and `pending`, into its status's set.
local function finish(base, id, record, outcome)
  record.status = outcome
  record.next_attempt_at = nil
  rcall('HSET', KEYS[base + 1], id, cjson.encode(record))
  rcall('ZREM', KEYS[base + 2], id)
  rcall('ZREM', KEYS[base + 4], id)
  rcall('ZADD', outcome == 'delivered' and KEYS[base + 5] or KEYS[base + 6], record.seq, id)
  if outcome == 'delivered' then
    rcall('HDEL', KEYS[base + 7], id)
  end
end

local finished = {}  -- endpoint number -> true, for the trim below
local recorded = 0
for i = first + counters * 2, #ARGV, 7 do
  local e = tonumber(ARGV[i])
  local base = base_of(e)
  local id, outcome = ARGV[i + 1], ARGV[i + 3]
  local raw = rcall('HGET', KEYS[base + 1], id)
  local record = raw and cjson.decode(raw)
  if record and record.token == ARGV[i + 2] then
    record.token = nil
    record.attempts = record.attempts + 1
    record.last_attempt_at = now
    record.last_status_code = tonumber(ARGV[i + 4])
    record.last_error = ARGV[i + 5] ~= '' and ARGV[i + 5] or nil
    if outcome == 'retry' then
      record.next_attempt_at = now + tonumber(ARGV[i + 6])
      rcall('ZADD', KEYS[base + 2], record.next_attempt_at, id)
      rcall('HSET', KEYS[base + 1], id, cjson.encode(record))
    else
      finish(base, id, record, outcome)
      finished[e] = true
    end
    recorded = recorded + 1
  end
end

for e in pairs(finished) do
  local base = base_of(e)
  for _, set in ipairs({KEYS[base + 5], KEYS[base + 6]}) do
    local over = rcall('ZCARD', set) - keep
    if over > 0 then
      -- bounded: at most TRIM ids
      local popped = rcall('ZRANGE', set, 0, math.min(over, TRIM) - 1)
      rcall('ZREM', set, unpack(popped))
      rcall('ZREM', KEYS[base + 3], unpack(popped))
      rcall('HDEL', KEYS[base + 1], unpack(popped))
      rcall('HDEL', KEYS[base + 7], unpack(popped))
    end
  end
end

local reply = {0, recorded}
for e = 1, endpoints do
  local n = tonumber(ARGV[3 + e])
  local base = base_of(e)
  if n > 0 and rcall('HGET', KEYS[base], 'enabled') == 'true' then
    local dueKey, deliveries = KEYS[base + 2], KEYS[base + 1]
    for _, id in ipairs(rcall('ZRANGE', dueKey, '-inf', now, 'BYSCORE', 'LIMIT', 0, n)) do
      local raw = rcall('HGET', deliveries, id)
      local body = rcall('HGET', KEYS[base + 7], id)
      if raw and body then
        local record = cjson.decode(raw)
        record.token = tostring(now)
        raw = cjson.encode(record)
        rcall('HSET', deliveries, id, raw)
        rcall('ZADD', dueKey, now + lease, id)
        reply[#reply + 1] = e
        reply[#reply + 1] = raw
        reply[#reply + 1] = body
      elseif raw then  -- its event is gone (cannot happen but by hand): give it up
        local record = cjson.decode(raw)
        record.last_error = 'the event to send is missing'
        finish(base, id, record, 'failed')
      else
        rcall('ZREM', dueKey, id)
      end
    end
  end
end
return reply
