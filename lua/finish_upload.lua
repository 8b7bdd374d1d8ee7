--[[
  End an upload: completed (the file was processed) or failed (a file-level error, or the list
  was archived meanwhile). Room still reserved for it in the list is given back.
  Input:
    KEYS[1] meta hash
    KEYS[2] upload hash
    KEYS[3] upload's duplicates list (its error file is written by now)
    KEYS[4] upload's committed-batches bitmap
    ARGV[1] owner
    ARGV[2] final status, "completed" or "failed"
    ARGV[3..] more upload field, value pairs (failure code, totals)
  finished_at is the server's time.
  Output:
    {0}          finished now
    {-8} {-10}   the lease is not ours, or the upload is gone
    {-11}        the upload was already finished
]]
-- @include upload_lease
local metaKey, uploadKey, dupsKey, batchesKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local rcall = redis.call
local lost = hold_lease(uploadKey, ARGV[1], 0)
if lost then
  return lost
end
local reserved = tonumber(rcall('HGET', uploadKey, 'reserved') or 0)
if reserved ~= 0 and rcall('EXISTS', metaKey) == 1 then
  rcall('HINCRBY', metaKey, 'reserved', -reserved)
end
rcall('HSET', uploadKey, 'status', ARGV[2], 'finished_at', server_ms(), 'phase', 'done',
  'reserved', 0, unpack(ARGV, 3)) -- bounded: the record's few result fields
rcall('HDEL', uploadKey, 'owner', 'lease_until')
rcall('UNLINK', dupsKey, batchesKey)
return {0}
