--[[
  Ranged stream entries: one entry holds n values, in order, joined by "\n" (no value holds
  one), and stands for n positions. An entry with id "ms-s" holds the values at positions
  "ms-s" .. "ms-(s+n-1)"; the next entry's id is past the last of them. A position is thus
  a stream id of its own (a cursor, an event id's tail) while the writer pays one XADD for
  a whole batch. A value's position stays the same for the life of the stream.
  The last position handed out is kept beside the stream (a field of a hash), since a
  trimmed stream no longer shows it. app/store/ranged.py reads such streams.
  add_entry(key, last, now, n, field, value, ...): XADD the fields (which hold n values) as
    one entry after `last` (the last position handed out, "ms-seq"; false for a stream never
    written in ranges, whose entries then each hold one value, so '*' is past them); returns
    the first position's ms and seq, and the new last position.
  add_range(key, field, values, last, now): add_entry with `field` = the joined values.
]]
local function add_entry(key, last, now, n, ...)
  local ms, seq
  if last then
    local lastMs, lastSeq = string.match(last, '^(%d+)-(%d+)$')
    lastMs, lastSeq = tonumber(lastMs), tonumber(lastSeq)
    if now > lastMs then
      ms, seq = now, 0
    else
      ms, seq = lastMs, lastSeq + 1
    end
    redis.call('XADD', key, string.format('%d-%d', ms, seq), ...)
  else
    local id = redis.call('XADD', key, '*', ...)
    local idMs, idSeq = string.match(id, '^(%d+)-(%d+)$')
    ms, seq = tonumber(idMs), tonumber(idSeq)
  end
  return ms, seq, string.format('%d-%d', ms, seq + n - 1)
end

local function add_range(key, field, values, last, now)
  return add_entry(key, last, now, #values, field, table.concat(values, '\n'))
end
