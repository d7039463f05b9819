-- Plan (or re-plan) a delayed item. KEYS[1] due zset, KEYS[2] items hash
-- ARGV[1] id, ARGV[2] due (unix ms), ARGV[3] payload, ARGV[4] "nx" to keep an existing plan
if ARGV[4] == 'nx' and redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
