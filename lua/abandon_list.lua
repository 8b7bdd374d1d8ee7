--[[
  Settle what became of a list whose claim on its (partner, tag) was left unsettled (its
  process died between steps): a list that exists says its status; one that does not is
  marked abandoned, so that a late create of it (a process that stalled past its claim's
  lease) is refused and its claim can be freed safely.
  Input:
    KEYS[1] meta hash
    KEYS[2] the list's abandoned mark
  Output:
    {1, status}   the list exists, with this stored status
    {0}           it does not; it never will (marked abandoned)
]]
local metaKey, abandonedKey = KEYS[1], KEYS[2]
local status = redis.call('HGET', metaKey, 'status')
if status then
  return {1, status}
end
redis.call('SET', abandonedKey, '1')
return {0}
