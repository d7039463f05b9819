-- ACK codes (prefixed to the scripts that bind them). A staff member's codes
-- hash maps code → escalation id. An escalation holds at most one code per
-- staff member, and a new code is the smallest number not held: short codes
-- for staff who answer by SMS, and a bare "ACK" works while one is held.

-- claimCode returns the code esc holds in the codes hash, else binds and
-- returns the smallest free one.
local function claimCode(codes, esc)
  local held = redis.call('HGETALL', codes)
  for i = 1, #held, 2 do
    if held[i + 1] == esc then return tonumber(held[i]) end
  end
  local n = 1
  while redis.call('HEXISTS', codes, tostring(n)) == 1 do n = n + 1 end
  redis.call('HSET', codes, tostring(n), esc)
  return n
end
