-- MarkSent on one node or Sentinel: the sent marker, the delivery-report
-- record and the job are set, the send claim dropped and, when a stream id
-- is given, the queue item acknowledged, all at once (a script is atomic like
-- the MULTI it replaces, and rides the auto-pipelined connection, which MULTI
-- cannot).
-- KEYS: sent, pid, job, sending, [stream]
-- ARGV: provider id, sent ttl ms, "<message id> queued", pid ttl ms, job, job ttl ms, [group, stream id]
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
redis.call('DEL', KEYS[4])
if KEYS[5] then
  redis.call('XACK', KEYS[5], ARGV[7], ARGV[8])
  redis.call('XDEL', KEYS[5], ARGV[8])
end
return 1
