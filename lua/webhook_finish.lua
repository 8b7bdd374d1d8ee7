--[[
  Record the outcome of attempts: delivered, failed (for good), or to be retried after a wait.
  An attempt whose token is no longer the delivery's (its claim lapsed and another process
  claimed it) changes nothing. Finished deliveries beyond ARGV[1] per status are dropped,
  oldest first, a few per call.
  Input:
    KEYS[1..] per endpoint, 6 keys: deliveries, due, log, pending, delivered, failed
    ARGV[1] finished deliveries kept per endpoint and status
    ARGV[2..] per attempt, 7 values: endpoint number, delivery id, token, outcome ("delivered",
            "failed" or "retry"), the receiver's status code ("" for none), error ("" for
            none), wait before the next attempt, ms (retry only)
  Output:
    {0, recorded}   attempts recorded
]]
-- @include clock
local rcall = redis.call
local now = server_ms()
local keep = tonumber(ARGV[1])
local recorded = 0
for i = 2, #ARGV, 7 do
  local base = (tonumber(ARGV[i]) - 1) * 6
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
return {0, recorded}
