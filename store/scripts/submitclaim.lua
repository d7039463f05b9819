-- Queue routine work for now and claim it for this process's consumer in
-- one step: its own workers take it from memory, with no stream read in
-- between, and the stream stays the durable record (a crash leaves the
-- entries pending for XAUTOCLAIM). One script: in a pipeline, a reader
-- blocked on the stream would be served between the XADD and the claim.
-- For each message this process claimed, the send claim is taken here too
-- (claim() from store/outbox.go, as ClaimSend does), so its worker goes
-- straight to the provider.
-- KEYS[1] work stream, then for each work item its sent marker and its
--   send claim (one node only: on a Cluster the caller passes none and
--   the workers claim as usual)
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] claim ms, ARGV[4] claim keep ms,
--   then id, payload pairs
local ours = {}
local n = 0
for i = 5, #ARGV, 2 do
  redis.call('XADD', KEYS[1], '*', 'id', ARGV[i], 'p', ARGV[i + 1])
  n = n + 1
  if #KEYS > 1 then ours[ARGV[i]] = 2 * n end
end
-- pcall: before any worker made the group there is nobody to hand to; the
-- entries wait in the stream for the first reader.
local r = redis.pcall('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', n, 'STREAMS', KEYS[1], '>')
if type(r) ~= 'table' or not r[1] then return {{}, {}} end
local entries, claims = r[1][2], {}
for i, e in ipairs(entries) do
  local id
  for j = 1, #e[2], 2 do
    if e[2][j] == 'id' then id = e[2][j + 1] end
  end
  local k = id and ours[id]
  if not k then
    claims[i] = {-1} -- not ours (read from a backlog): its worker claims it
  elseif redis.call('EXISTS', KEYS[k]) == 1 then
    claims[i] = {1}
  else
    claims[i] = claim(KEYS[k + 1], tonumber(ARGV[3]), ARGV[4])
  end
end
return {entries, claims}
