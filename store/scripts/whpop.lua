-- Drop the event in flight of an endpoint's queue of a client once it is
-- delivered (or given up), if it is still the head: a second delivery of
-- the same event (the sweep re-planned a queue whose delivery was already
-- running) must not drop the event behind it.
-- KEYS[1] the queue, KEYS[2] the agency's set of queues.
-- ARGV[1] the event delivered, ARGV[2] the queue's name in the set.
-- Returns how many events wait behind it, or -1 when the head is not it.
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then
  return -1
end
redis.call('LPOP', KEYS[1])
local n = redis.call('LLEN', KEYS[1])
if n == 0 then
  redis.call('SREM', KEYS[2], ARGV[2])
end
return n
