--[[
  One step of a delivery process: record the outcomes of its finished attempts, add its
  counters, and claim due deliveries for the slots it has free.
  An outcome is delivered, failed (for good), or retry after a wait. An attempt whose token is
  no longer the delivery's (its claim lapsed and another process claimed it) changes nothing.
  Finished deliveries beyond ARGV[1] per status are dropped, oldest first, a few per outcome.
  A claim moves the delivery's next attempt ARGV[2] ms ahead (longer than an attempt may take)
  and stamps a token, so no other process claims it while this one tries; a process that dies
  mid-attempt leaves it to be claimed again after that. A disabled or deleted endpoint's
  deliveries are not claimed.
  Input:
    KEYS[1] the engine's counters (hash)
    KEYS[2..] per endpoint, 7 keys: endpoint hash, deliveries, due, log, pending, delivered,
            failed
    ARGV[1] finished deliveries kept per endpoint and status
    ARGV[2] claim lease, ms
    ARGV[3] E, how many endpoints KEYS holds; ARGV[4..3+E] how many to claim of each
    ARGV[4+E] C, how many counters follow; then C pairs: counter name, increment
    then per outcome, 7 values: endpoint number, delivery id, token, outcome ("delivered",
            "failed" or "retry"), the receiver's status code ("" for none), error ("" for
            none), wait before the next attempt, ms (retry only)
  Output:
    {0, recorded, endpoint number, delivery record JSON, ...}   the deliveries claimed
]]
-- @include clock
local rcall = redis.call
local now = server_ms()
local keep, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local endpoints = tonumber(ARGV[3])
local counters = tonumber(ARGV[4 + endpoints])
local first = 5 + endpoints
for i = first, first + counters * 2 - 1, 2 do
  rcall('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1])
end
local recorded = 0
for i = first + counters * 2, #ARGV, 7 do
  local base = 2 + (tonumber(ARGV[i]) - 1) * 7
  local deliveries, due, log = KEYS[base + 1], KEYS[base + 2], KEYS[base + 3]
  local id, outcome = ARGV[i + 1], ARGV[i + 3]
  local raw = rcall('HGET', deliveries, id)
  local record = raw and cjson.decode(raw)
  if record and record.token == ARGV[i + 2] then
    record.token = nil
    record.attempts = record.attempts + 1
    record.last_attempt_at = now
    record.last_status_code = tonumber(ARGV[i + 4])
    record.last_error = ARGV[i + 5] ~= '' and ARGV[i + 5] or nil
    if outcome == 'retry' then
      record.next_attempt_at = now + tonumber(ARGV[i + 6])
      rcall('ZADD', due, record.next_attempt_at, id)
      rcall('HSET', deliveries, id, cjson.encode(record))
    else
      record.status = outcome
      record.next_attempt_at = nil
      local finished = outcome == 'delivered' and KEYS[base + 5] or KEYS[base + 6]
      rcall('ZREM', due, id)
      rcall('ZREM', KEYS[base + 4], id)
      rcall('ZADD', finished, record.seq, id)
      rcall('HSET', deliveries, id, cjson.encode(record))
      for _ = 1, 2 do
        if rcall('ZCARD', finished) <= keep then
          break
        end
        local oldest = rcall('ZPOPMIN', finished)[1]
        rcall('HDEL', deliveries, oldest)
        rcall('ZREM', log, oldest)
      end
    end
    recorded = recorded + 1
  end
end
local reply = {0, recorded}
for e = 1, endpoints do
  local n = tonumber(ARGV[3 + e])
  local base = 2 + (e - 1) * 7
  local enabled = rcall('HGET', KEYS[base], 'enabled')
  if n > 0 and enabled == 'true' then
    local dueKey, deliveries = KEYS[base + 2], KEYS[base + 1]
    for _, id in ipairs(rcall('ZRANGE', dueKey, '-inf', now, 'BYSCORE', 'LIMIT', 0, n)) do
      local raw = rcall('HGET', deliveries, id)
      if raw then
        local record = cjson.decode(raw)
        record.token = tostring(now)
        raw = cjson.encode(record)
        rcall('HSET', deliveries, id, raw)
        rcall('ZADD', dueKey, now + lease, id)
        reply[#reply + 1] = e
        reply[#reply + 1] = raw
      else
        rcall('ZREM', dueKey, id)
      end
    end
  end
end
return reply
