--[[
  Add one batch of an upload's candidate codes (valid, first in their file) to the list: codes
  not yet in the dedupe set go into dedupe and avail; the rest are duplicate_code. The list's
  counters and the upload's committed progress change in the same atomic step, so a crashed
  upload resumes after its last committed batch without counting anything twice.
  Input:
    KEYS[1] meta hash
    KEYS[2] dedupe set
    KEYS[3] avail set
    KEYS[4] upload hash
    ARGV[1] owner
    ARGV[2] lease, milliseconds
    ARGV[3] candidates done once this batch is committed
    ARGV[4] bytes of the duplicates file written before this batch
    ARGV[5] index of the batch's first code among the upload's candidates
    ARGV[6..] the batch's codes (at most a few thousand)
  Output:
    {0, added, dupIndex...}   committed; dupIndex are 0-based indexes among the candidates,
                              also kept in the upload's pending_dups until the next batch
    {-4}                      no such list
    {-8} {-10} {-11}          the lease is not ours, the upload is gone, or finished
    {-9}                      the list is archived
]]
-- @include upload_lease
local metaKey, dedupeKey, availKey, uploadKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
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

local CHUNK = 1000
local first, last, start = 6, #ARGV, tonumber(ARGV[5])
local added, dups = 0, {}
for i = first, last, CHUNK do
  local j = math.min(i + CHUNK - 1, last)
  local seen = rcall('SMISMEMBER', dedupeKey, unpack(ARGV, i, j))
  local chunk = {}
  for k = 1, #seen do
    if seen[k] == 1 then
      dups[#dups + 1] = start + i + k - 1 - first
    else
      chunk[#chunk + 1] = ARGV[i + k - 1]
    end
  end
  if #chunk > 0 then
    rcall('SADD', dedupeKey, unpack(chunk))
    rcall('SADD', availKey, unpack(chunk))
    added = added + #chunk
  end
end

if added > 0 then  -- (a Lua -0 would reach Redis as "-0", which is not an integer)
  rcall('HINCRBY', metaKey, 'codes_uploaded', added)
  rcall('HINCRBY', metaKey, 'reserved', -added)
  rcall('HINCRBY', uploadKey, 'codes_uploaded', added)
  rcall('HINCRBY', uploadKey, 'reserved', -added)
end
rcall('HINCRBY', uploadKey, 'err:duplicate_code', #dups)
rcall('HINCRBY', uploadKey, 'error_count', #dups)
rcall('HSET', uploadKey, 'cands_done', ARGV[3], 'dups_bytes', ARGV[4],
  'pending_dups', table.concat(dups, ','))
local reply = {0, added}
for _, d in ipairs(dups) do
  reply[#reply + 1] = d
end
return reply
