-- Drop a client's outbox entries whose events are queued, and the outbox
-- itself once it is empty: an empty stream still takes about 400 bytes, and
-- every client has an outbox for a moment after each check-in. (Not an
-- agency's: its entry ids, XADD's own, must keep increasing; OutboxDrop.drop.)
-- KEYS[1] the outbox stream; ARGV the entry ids.
redis.call('XDEL', KEYS[1], unpack(ARGV))
if redis.call('XLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
end
return 1
