-- Finish processing one inbound message: write the conversation state, append
-- the timeline events, drop the message from the pending list. Nothing
-- happens if the message was already processed (another worker got there).
-- KEYS[1] pending list, KEYS[2] conversation, KEYS[3] timeline stream
-- ARGV[1] message timeline id ("" for work not tied to a message)
-- ARGV[2] conversation JSON ("" = keep, "-" = delete)
-- ARGV[3..] timeline events, each a JSON-encoded flat array of field, value pairs
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
for i = 3, #ARGV do
  local fields = cjson.decode(ARGV[i])
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
return 1
