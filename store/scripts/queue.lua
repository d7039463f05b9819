-- Queue work in the queue's hash slot ({q}), optionally at most once within
-- a spacing, and claim the urgent entries for this process's consumer.
--
-- KEYS[1] urgent stream, KEYS[2] work stream, KEYS[3] due set, KEYS[4] items
-- hash, KEYS[5] (optional) guard marker.
-- ARGV[1] now (unix ms, of the service's clock), ARGV[2] guard spacing in ms
-- (guard only), ARGV[3] group, ARGV[4] consumer ("" none), ARGV[5] item count, then per item: kind ("u" urgent stream, "s"
-- work stream, "d" due set, "o" due set unless already planned), id, due
-- (unix ms, "d" and "o"), payload.
--
-- With a guard, nothing is queued while the marker names a time after now
-- (returns {0, {}}); otherwise the marker is set to now + spacing.
-- Urgent entries added are read into the consumer's pending list in the same
-- script: its own workers take them at once, no other process's blocked read
-- gets them, and the stream stays the durable record (a crash leaves them for
-- XAUTOCLAIM). Returns {1, claimed entries}.
if KEYS[5] then
  local now, every = tonumber(ARGV[1]), tonumber(ARGV[2])
  local till = tonumber(redis.call('GET', KEYS[5]) or '0') or 0
  if till > now then return {0, {}} end
  redis.call('SET', KEYS[5], string.format('%d', now + every), 'PX', every)
end
local group, consumer, n = ARGV[3], ARGV[4], tonumber(ARGV[5])
local i = 6
local urgentAdded = false
for _ = 1, n do
  local kind, id, at, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  i = i + 4
  if kind == 'u' then
    redis.call('XADD', KEYS[1], '*', 'id', id, 'p', payload)
    urgentAdded = true
  elseif kind == 's' then
    redis.call('XADD', KEYS[2], '*', 'id', id, 'p', payload)
  elseif kind == 'd' or not redis.call('ZSCORE', KEYS[3], id) then
    redis.call('ZADD', KEYS[3], at, id)
    redis.call('HSET', KEYS[4], id, payload)
  end
end
if urgentAdded and consumer ~= '' then
  -- pcall: before any worker created the group there is nobody to hand
  -- to; the entries wait in the stream for the first reader.
  local r = redis.pcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 64, 'STREAMS', KEYS[1], '>')
  if type(r) == 'table' and r[1] then return {1, r[1][2]} end
end
return {1, {}}
