--[[
  Add one batch of an upload's candidate codes (valid, first in their file) to the list. SADD
  to the dedupe set is the duplicate check: when it adds every code, all are fresh and go to
  avail too. When it adds fewer, a code that is in avail or issued is a duplicate_code and the
  others are fresh. (dedupe is avail + issued; a code it holds that is in neither would mean a
  damaged store: it is taken as fresh and counted, so the counts stay exact.) The list's
  counters and the upload's committed progress (the batch's bit) change in the same atomic
  step: a batch is committed once and only once, whatever order batches arrive in, so a
  crashed upload resumes with the batches whose bit is not set, and a batch sent twice changes
  nothing the second time.
  Input:
    KEYS[1] meta hash
    KEYS[2] dedupe set
    KEYS[3] avail set
    KEYS[4] issued hash
    KEYS[5] upload hash
    KEYS[6] upload's duplicates list (indexes among the candidates, in no particular order)
    KEYS[7] upload's committed-batches bitmap
    KEYS[8] the list's snapshot fence (set while a snapshot reads the list's codes)
    ARGV[1] owner
    ARGV[2] lease, milliseconds
    ARGV[3] batch number (its bit in the bitmap)
    ARGV[4] index of the batch's first code among the upload's candidates
    ARGV[5] the batch's codes, separated by "\n" (at most 7,000; a code never holds "\n")
  Output:
    {0, fresh, duplicates}   committed now (codes added, duplicate_code rows), or earlier
                             (then {0, 0, 0})
    {-4}                     no such list
    {-8} {-10} {-11}         the lease is not ours, the upload is gone, or finished
    {-9}                     the list is archived
    {-19}                    a snapshot is reading the list: send the batch again shortly
]]
-- @include upload_lease
local metaKey, dedupeKey, availKey, issuedKey, uploadKey, dupsKey, batchesKey = KEYS[1],
  KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local fenceKey = KEYS[8]
local rcall = redis.call
local lost = hold_lease(uploadKey, ARGV[1], ARGV[2])
if lost then
  return lost
end
local status = rcall('HGET', metaKey, 'status')
if not status then
  return {-4}
end
if status == 'archived' then
  return {-9}
end
if rcall('EXISTS', fenceKey) == 1 then
  return {-19}
end
if rcall('SETBIT', batchesKey, ARGV[3], 1) == 1 then
  return {0, 0, 0}
end

local start = tonumber(ARGV[4])
local codes = {}
for code in string.gmatch(ARGV[5], '[^\n]+') do
  codes[#codes + 1] = code
end
local n = #codes
local fresh = n -- codes new to the list: they go to avail and count as uploaded
local dups = {}
-- `codes` holds at most one batch (app/jobs/uploads.py BATCH, 1,000), as do `new` and `dups`
if n > 0 and rcall('SADD', dedupeKey, unpack(codes)) == n then -- bounded: one batch
  rcall('SADD', availKey, unpack(codes)) -- bounded: one batch
elseif n > 0 then
  local inAvail = rcall('SMISMEMBER', availKey, unpack(codes)) -- bounded: one batch
  local inIssued = rcall('HMGET', issuedKey, unpack(codes)) -- bounded: one batch
  local new = {}
  for k = 1, n do
    if inAvail[k] == 1 or inIssued[k] then
      dups[#dups + 1] = start + k - 1
    else
      new[#new + 1] = codes[k]
    end
  end
  fresh = #new
  if fresh > 0 then
    rcall('SADD', availKey, unpack(new))
  end
  if #dups > 0 then
    rcall('RPUSH', dupsKey, unpack(dups))
  end
end

if fresh > 0 then  -- (a Lua -0 would reach Redis as "-0", which is not an integer)
  rcall('HINCRBY', metaKey, 'codes_uploaded', fresh)
  rcall('HINCRBY', metaKey, 'reserved', -fresh)
  rcall('HINCRBY', uploadKey, 'codes_uploaded', fresh)
  rcall('HINCRBY', uploadKey, 'reserved', -fresh)
end
if #dups > 0 then
  rcall('HINCRBY', uploadKey, 'err:duplicate_code', #dups)
  rcall('HINCRBY', uploadKey, 'error_count', #dups)
end
return {0, fresh, #dups}
