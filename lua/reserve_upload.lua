--[[
  After the file has been checked: reserve room in the list for the upload's fresh codes, so
  uploads running at once can never take a list past its limit, and record the file's totals.
  Input:
    KEYS[1] meta hash
    KEYS[2] upload hash
    ARGV[1] owner
    ARGV[2] lease, milliseconds
    ARGV[3] fresh codes to reserve room for
    ARGV[4] most codes a list may hold
    ARGV[5..] upload field, value pairs (batch_size, codes_total, error_count, err:<code>)
  Output:
    {0}               reserved; the upload moves to phase "adding"
    {-4}              no such list
    {-8} {-10} {-11}  the lease is not ours, the upload is gone, or finished
    {-9}              the list is archived
    {-12}             the list would pass its limit
]]
-- @include upload_lease
local metaKey, uploadKey = KEYS[1], KEYS[2]
local rcall = redis.call
local lost = hold_lease(uploadKey, ARGV[1], ARGV[2])
if lost then
  return lost
end
local meta = rcall('HMGET', metaKey, 'status', 'codes_uploaded', 'reserved')
if not meta[1] then
  return {-4}
end
if meta[1] == 'archived' then
  return {-9}
end
local fresh = tonumber(ARGV[3])
if tonumber(meta[2] or 0) + tonumber(meta[3] or 0) + fresh > tonumber(ARGV[4]) then
  return {-12}
end
rcall('HINCRBY', metaKey, 'reserved', fresh)
rcall('HSET', uploadKey, 'phase', 'adding', 'reserved', fresh, unpack(ARGV, 5)) -- bounded: few
return {0}
