--[[
  Try a failed delivery again (one more attempt, now).
  Input:
    KEYS[1] deliveries, KEYS[2] due, KEYS[3] pending, KEYS[4] failed
    ARGV[1] delivery id
  Output:
    {0}     queued
    {-26}   no such delivery
    {-27}   the delivery has not failed
]]
-- @include clock
local rcall = redis.call
local raw = rcall('HGET', KEYS[1], ARGV[1])
if not raw then
  return {-26}
end
local record = cjson.decode(raw)
if record.status ~= 'failed' then
  return {-27, record.status}
end
local now = server_ms()
record.status = 'pending'
record.next_attempt_at = now
rcall('HSET', KEYS[1], ARGV[1], cjson.encode(record))
rcall('ZREM', KEYS[4], ARGV[1])
rcall('ZADD', KEYS[3], record.seq, ARGV[1])
rcall('ZADD', KEYS[2], now, ARGV[1])
return {0}
