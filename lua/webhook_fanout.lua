--[[
  Create one delivery per (endpoint, event) the engine matched in a page of the event stream,
  and move the engine's cursor past the page, in one step: a crash leaves either both or
  neither, so every matched event gets its deliveries once. Compare-and-set on the cursor (when
  another process moved it first, nothing is written) and on the endpoints' version (the page
  was matched against endpoints that have changed since: nothing is written, match again).
  The caller claims the first of each endpoint's new deliveries for itself at once (a claim:
  see webhook_settle), so a delivery with a free slot costs no second call before its attempt.
  A delivery's record is small (no event in it); the event waits in `bodies` until sent.
  Writes are gathered per endpoint: one HSET and one ZADD per key for the whole page.
  Input:
    KEYS[1] the engine's state (hash: cursor, seq, version)
    KEYS[2..] per endpoint, 6 keys: endpoint hash, deliveries, due, log, pending, bodies
    ARGV[1] the cursor the page was read after ("" for none)
    ARGV[2] the cursor after the page
    ARGV[3] the endpoints' version the page was matched against
    ARGV[4] claim lease, ms
    ARGV[5] E, how many endpoints KEYS holds; ARGV[6..5+E] how many to claim of each
    ARGV[6+E..] per delivery, 5 values: endpoint number (1-based, in KEYS order), event id,
            event name, event time (epoch ms), event JSON
  Output:
    {0, created, delivery number, id, token, ...}   the deliveries claimed (numbered 1-based
                                                    in ARGV order)
    {-25}   the cursor moved: another process took this page
    {-28}   the endpoints changed
]]
-- @include clock
local stateKey = KEYS[1]
local rcall = redis.call
local state = rcall('HMGET', stateKey, 'cursor', 'version')
if (state[1] or '') ~= ARGV[1] then
  return {-25}
end
if (state[2] or '0') ~= ARGV[3] then
  return {-28}
end
local now = server_ms()
local lease = tonumber(ARGV[4])
local endpoints = tonumber(ARGV[5])
local first = 6 + endpoints
local created = (#ARGV - first + 1) / 5
local room, writes = {}, {}
for e = 1, endpoints do
  room[e] = tonumber(ARGV[5 + e])
  writes[e] = {records = {}, bodies = {}, due = {}, seqs = {}}
end
local seq = rcall('HINCRBY', stateKey, 'seq', created) - created
local reply = {0, created}
for i = first, #ARGV, 5 do
  local e = tonumber(ARGV[i])
  local w = writes[e]
  seq = seq + 1
  local id = 'dlv_' .. seq
  local record = {id = id, seq = seq, event_id = ARGV[i + 1], event_name = ARGV[i + 2],
    event_at = tonumber(ARGV[i + 3]), status = 'pending', attempts = 0, created_at = now,
    next_attempt_at = now}
  local due = now
  if room[e] > 0 then
    room[e] = room[e] - 1
    record.token = tostring(now)
    due = now + lease
    reply[#reply + 1] = (i - first) / 5 + 1
    reply[#reply + 1] = id
    reply[#reply + 1] = record.token
  end
  local n = #w.records
  w.records[n + 1], w.records[n + 2] = id, cjson.encode(record)
  w.bodies[n + 1], w.bodies[n + 2] = id, ARGV[i + 4]
  w.due[n + 1], w.due[n + 2] = due, id
  w.seqs[n + 1], w.seqs[n + 2] = seq, id
end
for e = 1, endpoints do
  local w, base = writes[e], 1 + (e - 1) * 6
  if #w.records > 0 then
    -- bounded: two values per delivery of one page (the engine's page is at most 250)
    rcall('HSET', KEYS[base + 2], unpack(w.records))
    rcall('HSET', KEYS[base + 6], unpack(w.bodies))
    rcall('ZADD', KEYS[base + 3], unpack(w.due))
    rcall('ZADD', KEYS[base + 4], unpack(w.seqs))
    rcall('ZADD', KEYS[base + 5], unpack(w.seqs))
  end
end
rcall('HSET', stateKey, 'cursor', ARGV[2])
return reply
