-- Move due items from the due set into the work stream, atomically, so that
-- an item is claimed by exactly one mover however many processes run.
-- KEYS[1] due zset, KEYS[2] items hash, KEYS[3] stream
-- ARGV[1] now (unix ms), ARGV[2] max items
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local payload = redis.call('HGET', KEYS[2], id)
  if payload then
    redis.call('XADD', KEYS[3], '*', 'id', id, 'p', payload)
    redis.call('HDEL', KEYS[2], id)
  end
  redis.call('ZREM', KEYS[1], id)
end
return #ids
