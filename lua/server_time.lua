--[[
  The store's clock as the server holding a key's slot reads it (on a Redis Cluster, TIME
  without a key would go to any node), and whether that key exists.
  Input:
    KEYS[1] a key: its server answers
  Output:
    {now, exists}   now: epoch milliseconds; exists: 1 or 0
]]
-- @include clock
return {server_ms(), redis.call('EXISTS', KEYS[1])}
