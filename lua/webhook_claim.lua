--[[
  Claim due deliveries of endpoints for one attempt each. A claim moves the delivery's next
  attempt ARGV[1] ms ahead (longer than an attempt may take) and stamps a token, so no other
  process claims it while this one tries; a process that dies mid-attempt leaves it to be
  claimed again after that. Only the holder of the newest token may finish the attempt.
  Input:
    KEYS[1..] per endpoint, 2 keys: due, deliveries
    ARGV[1] claim lease, ms
    ARGV[2..] per endpoint: how many to claim at most
  Output:
    {0, endpoint number, delivery record JSON, ...}   the claimed deliveries (record.token set)
]]
-- @include clock
local rcall = redis.call
local now = server_ms()
local reply = {0}
for e = 1, #KEYS / 2 do
  local dueKey, deliveriesKey = KEYS[e * 2 - 1], KEYS[e * 2]
  local n = tonumber(ARGV[e + 1])
  if n > 0 then
    local ids = rcall('ZRANGE', dueKey, '-inf', now, 'BYSCORE', 'LIMIT', 0, n)
    for _, id in ipairs(ids) do
      local raw = rcall('HGET', deliveriesKey, id)
      if raw then
        local record = cjson.decode(raw)
        record.token = tostring(now)
        raw = cjson.encode(record)
        rcall('HSET', deliveriesKey, id, raw)
        rcall('ZADD', dueKey, now + tonumber(ARGV[1]), id)
        reply[#reply + 1] = e
        reply[#reply + 1] = raw
      else
        rcall('ZREM', dueKey, id)
      end
    end
  end
end
return reply
