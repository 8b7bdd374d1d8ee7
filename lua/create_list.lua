--[[
  Create a voucher list, active, on its own slot: the second of the three steps that create
  a list (its (partner, tag) was claimed first, and is confirmed after). created_at and
  updated_at are the server's time.
  Input:
    KEYS[1] the new list's meta hash
    KEYS[2] the list's abandoned mark (set when its claim was settled without it)
    ARGV[1] expires_at, epoch milliseconds (must be after the server's time)
    ARGV[2..] more meta field, value pairs (partner, tag, name, description, threshold)
  Output:
    {0, now}      created at now (epoch milliseconds)
    {-21}         expires_at is not in the future
    {-22}         the list was given up (its claim's lease ran out and was settled)
]]
-- @include clock
local metaKey, abandonedKey = KEYS[1], KEYS[2]
local rcall = redis.call
local now = server_ms()
if tonumber(ARGV[1]) <= now then
  return {-21}
end
if rcall('EXISTS', abandonedKey) == 1 then
  return {-22}
end
rcall('HSET', metaKey, 'expires_at', ARGV[1], 'status', 'active', 'created_at', now,
  'updated_at', now, 'codes_uploaded', 0, 'codes_distributed', 0, 'linked_campaigns', 0,
  unpack(ARGV, 2)) -- bounded: the list's few metadata fields
return {0, now}
