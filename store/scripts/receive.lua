-- Store one inbound message of a client, unless its provider id was seen:
-- claim the id, append the message to the timeline, queue it for processing.
-- One script, so a crash cannot store a message without claiming its id.
-- KEYS[1] seen zset, KEYS[2] timeline stream, KEYS[3] pending list
-- ARGV[1] provider id, hashed (store.seenID), ARGV[2] now (unix ms), ARGV[3] channel, ARGV[4] kind, ARGV[5] text,
-- ARGV[6] how long provider ids are kept (ms; store.RedeliveryWindow)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return false
end
local now = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[6]))
local id, delta = entry_id(KEYS[2], now)
redis.call('XADD', KEYS[2], id, 'e', packed('i', delta, '\31' .. ARGV[3] .. '\31' .. ARGV[4] .. '\31' .. ARGV[5]))
redis.call('RPUSH', KEYS[3], id)
return id
