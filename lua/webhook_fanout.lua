--[[
  Create one delivery per (endpoint, event) the engine matched in a page of the event stream,
  and move the engine's cursor past the page, in one step: a crash leaves either both or
  neither, so every matched event gets its deliveries once. Compare-and-set on the cursor: when
  another process moved it first, nothing is written.
  Input:
    KEYS[1] the engine's state (hash: cursor, seq)
    KEYS[2..] per endpoint, 5 keys: endpoint hash, deliveries, due, log, pending
    ARGV[1] the cursor the page was read after ("" for none)
    ARGV[2] the cursor after the page
    ARGV[3..] per delivery, 4 values: endpoint number (1-based, in KEYS order), event id,
            event name, event JSON
  Output:
    {0, created}   deliveries created
    {-25}          the cursor moved: another process took this page
]]
-- @include clock
local stateKey = KEYS[1]
local rcall = redis.call
if (rcall('HGET', stateKey, 'cursor') or '') ~= ARGV[1] then
  return {-25}
end
local now = server_ms()
local created = 0
for i = 3, #ARGV, 4 do
  local base = 1 + (tonumber(ARGV[i]) - 1) * 5
  if rcall('EXISTS', KEYS[base + 1]) == 1 then
    local seq = rcall('HINCRBY', stateKey, 'seq', 1)
    local id = 'dlv_' .. seq
    rcall('HSET', KEYS[base + 2], id, cjson.encode({
      id = id, seq = seq, event_id = ARGV[i + 1], event_name = ARGV[i + 2], event = ARGV[i + 3],
      status = 'pending', attempts = 0, created_at = now, next_attempt_at = now}))
    rcall('ZADD', KEYS[base + 3], now, id)
    rcall('ZADD', KEYS[base + 4], seq, id)
    rcall('ZADD', KEYS[base + 5], seq, id)
    created = created + 1
  end
end
rcall('HSET', stateKey, 'cursor', ARGV[2])
return {0, created}
