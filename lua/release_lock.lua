--[[
  Give up a lease (a background job's, at shutdown) if this owner still holds it, so another
  process can take over at once instead of waiting for it to run out.
  Input:
    KEYS[1] lock key
    ARGV[1] owner token
  Output:
    1   released
    0   the owner did not hold it
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
