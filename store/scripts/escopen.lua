-- Open an escalation unless the client has one open: one script in the
-- agency's hash slot, so at most one escalation per client is open on one
-- node and on a Cluster alike. The client's pointer names their open
-- escalation, and only an open one: closing an escalation clears it in the
-- same script (escupdate.lua).
-- While the agency has webhook endpoints, the opening is written to the
-- agency's outbox in the same script: the record and its event are one write.
-- KEYS[1] the client's open pointer, KEYS[2] the record, KEYS[3] the agency's
-- list, KEYS[4] the agency's outbox, KEYS[5] the agency's webhook endpoints,
-- KEYS[6] the agency's unresolved index, KEYS[7] the client's escalations,
-- KEYS[8] (optional) the codes hash of the staff member the first alert goes
-- to. ARGV[1] escalation id, ARGV[2] record body.
-- Returns {'joined', open id} (nothing written) or {'opened', code, outbox
-- entry id or ''} (code 0: none bound).
local cur = redis.call('GET', KEYS[1])
if cur then return {'joined', cur} end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZADD', KEYS[6], 0, ARGV[1])
redis.call('ZADD', KEYS[7], 0, ARGV[1])
redis.call('SET', KEYS[1], ARGV[1])
local code = 0
if KEYS[8] then code = claimCode(KEYS[8], ARGV[1]) end
local out = ''
if redis.call('EXISTS', KEYS[5]) == 1 then
  out = redis.call('XADD', KEYS[4], 'MAXLEN', '~', 10000, '*', 'before', '', 'esc', ARGV[2])
end
return {'opened', code, out}
