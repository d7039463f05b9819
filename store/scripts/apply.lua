-- Finish processing one inbound message: write the conversation state, append
-- the timeline events, drop the message from the pending list. Nothing
-- happens if the message was already processed (another worker got there).
-- Events the agency's webhooks report are written to the client's outbox
-- too, under the same entry id, in this script: the record and its event
-- are one write.
-- KEYS[1] pending list, KEYS[2] conversation, KEYS[3] timeline stream,
-- KEYS[4] the client's outbox
-- ARGV[1] message timeline id ("" for work not tied to a message)
-- ARGV[2] conversation JSON ("" = keep, "-" = delete)
-- ARGV[3] now (unix ms)
-- ARGV[4] "" or a JSON array, one element per event: 0, or the event's
-- fields (JSON) for the outbox
-- ARGV[5..] timeline events: a packed entry without its at element (head,
-- then the tail), or a JSON-encoded flat array of field, value pairs
-- Returns 0 (already processed), 1, or {1, outbox entry ids…}.
if ARGV[1] ~= '' then
  if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then
    return 0
  end
  redis.call('LPOP', KEYS[1])
end
if ARGV[2] == '-' then
  redis.call('DEL', KEYS[2])
elseif ARGV[2] ~= '' then
  redis.call('SET', KEYS[2], ARGV[2])
end
local now, last = tonumber(ARGV[3]), nil
local outbox, sent = nil, {1}
if ARGV[4] ~= '' then outbox = cjson.decode(ARGV[4]) end
for i = 5, #ARGV do
  local id, delta = entry_id(KEYS[3], now, last)
  last = id
  local ev = ARGV[i]
  if string.sub(ev, 1, 1) == '[' then
    redis.call('XADD', KEYS[3], id, unpack(cjson.decode(ev)))
  else
    local sep = string.find(ev, '\31', 1, true)
    local head, tail = ev, ''
    if sep then head, tail = string.sub(ev, 1, sep - 1), string.sub(ev, sep) end
    redis.call('XADD', KEYS[3], id, 'e', packed(head, delta, tail))
  end
  if outbox and outbox[i - 4] ~= 0 then
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', 10000, id, 'f', outbox[i - 4])
    sent[#sent + 1] = id
  end
end
if #sent > 1 then return sent end
return 1
