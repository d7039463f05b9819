-- Prepended to the scripts that append timeline entries (store/inbound.go).
-- An entry's id is the store's clock (its "at"), so "at" is not stored a
-- second time: ms-0, or the next sequence number in the same millisecond.
-- When the clock is behind the stream's last entry (another process's clock
-- runs ahead) the id stays after it, ids never go backwards, and the entry
-- keeps at - id (base 36) in its packed value.
local function entry_id(key, now, last)
  if not last then
    local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
    last = top[1] and top[1][1] or '0-0'
  end
  local dash = string.find(last, '-', 1, true)
  local lms, lseq = tonumber(string.sub(last, 1, dash - 1)), tonumber(string.sub(last, dash + 1))
  if now > lms then
    return string.format('%d-0', now), 0
  end
  return string.format('%d-%d', lms, lseq + 1), now - lms
end

local function b36(n)
  if n == 0 then return '' end
  local neg = n < 0
  if neg then n = -n end
  local digits, s = '0123456789abcdefghijklmnopqrstuvwxyz', ''
  while n > 0 do
    local d = n % 36
    s = string.sub(digits, d + 1, d + 1) .. s
    n = math.floor(n / 36)
  end
  if neg then s = '-' .. s end
  return s
end

-- packed joins a packed entry's head, its at delta and its tail (which
-- starts with the separator, or is empty).
local function packed(head, delta, tail)
  local d = b36(delta)
  if d == '' and tail == '' then return head end
  return head .. '\31' .. d .. tail
end
