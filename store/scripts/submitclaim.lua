-- Queue routine work for now and claim it for this process's consumer in
-- one step: its own workers take it from memory, with no stream read in
-- between, and the stream stays the durable record (a crash leaves the
-- entries pending for XAUTOCLAIM). One script: in a pipeline, a reader
-- blocked on the stream would be served between the XADD and the claim.
-- KEYS[1] work stream
-- ARGV[1] group, ARGV[2] consumer, then id, payload pairs
local n = 0
for i = 3, #ARGV, 2 do
  redis.call('XADD', KEYS[1], '*', 'id', ARGV[i], 'p', ARGV[i + 1])
  n = n + 1
end
-- pcall: before any worker made the group there is nobody to hand to; the
-- entries wait in the stream for the first reader.
local r = redis.pcall('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', n, 'STREAMS', KEYS[1], '>')
if type(r) == 'table' and r[1] then return r[1][2] end
return {}
