-- Replace an escalation's record if it still holds what the writer read
-- (compare and set), and clear the client's open pointer when the record
-- leaves "open": both in the agency's hash slot, so the pointer names an
-- open escalation or nothing.
-- A change of status is written to the agency's outbox in the same script
-- while the agency has webhook endpoints.
-- A resolved escalation leaves the agency's unresolved index.
-- KEYS[1] record, KEYS[2] the client's open pointer, KEYS[3] the agency's
-- outbox, KEYS[4] the agency's webhook endpoints, KEYS[5] the agency's
-- unresolved index.
-- ARGV[1] body read, ARGV[2] new body, ARGV[3] escalation id, ARGV[4] "1" when
-- the new record is no longer open, ARGV[5] the status before when it
-- changes ("" when it does not), ARGV[6] "1" when the new record is resolved.
-- Returns {1, outbox entry id or ''} when written, {0, current body} when the
-- record changed meanwhile, {-1} when there is no record.
local cur = redis.call('GET', KEYS[1])
if not cur then return {-1} end
if cur ~= ARGV[1] then return {0, cur} end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[4] == '1' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
if ARGV[6] == '1' then redis.call('ZREM', KEYS[5], ARGV[3]) end
local out = ''
if ARGV[5] ~= '' and redis.call('EXISTS', KEYS[4]) == 1 then
  out = redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'before', ARGV[5], 'esc', ARGV[2])
end
return {1, out}
