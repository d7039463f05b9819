-- The crisis path's writes, in as few round trips as the deployment allows.
-- One script, several entry points (ARGV[1]); on one Redis node "safety"
-- and "open" each do their whole part atomically; on a Cluster, where keys
-- of different hash slots cannot meet in one script, the caller runs the
-- single-slot parts "pointer", "record" and "queue" one after another.
--
-- Work items are ARGV groups of four: kind ("u" urgent stream, "s" work
-- stream, "d" due set), id, due (unix ms, "d" only), payload. When the caller
-- names its consumer, urgent entries added are read into that consumer's
-- pending list in the same script: its own workers take them at once, no
-- other process's blocked read gets them, and the stream stays the durable
-- record (a crash leaves them for XAUTOCLAIM).

local mode = ARGV[1]

-- queue adds the work items from ARGV[i] on and claims the urgent ones.
-- KEYS given: urgent stream, work stream, due set, items hash.
-- ARGV[i] group, ARGV[i+1] consumer ("" none), ARGV[i+2] item count, items.
local function queue(urgent, stream, due, items, i)
  local group, consumer, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  i = i + 3
  local urgentAdded = false
  for _ = 1, n do
    local kind, id, at, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    i = i + 4
    if kind == 'u' then
      redis.call('XADD', urgent, '*', 'id', id, 'p', payload)
      urgentAdded = true
    elseif kind == 's' then
      redis.call('XADD', stream, '*', 'id', id, 'p', payload)
    else
      redis.call('ZADD', due, at, id)
      redis.call('HSET', items, id, payload)
    end
  end
  if urgentAdded and consumer ~= '' then
    -- pcall: before any worker created the group there is nobody to hand
    -- to; the entries wait in the stream for the first reader.
    local r = redis.pcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 64, 'STREAMS', urgent, '>')
    if type(r) == 'table' and r[1] then return r[1][2] end
  end
  return {}
end

-- smallest free ACK code in a staff member's codes hash
local function freeCode(key)
  local n = 1
  while redis.call('HEXISTS', key, tostring(n)) == 1 do n = n + 1 end
  return n
end

-- record checks the predicted ACK code is still the smallest free one, then
-- stores and lists the escalation and binds the code. KEYS given: record,
-- list, codes hash. ARGV[i] id, body, code ("" none).
local function record(esc, escs, ack, i)
  local id, body, code = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if code ~= '' then
    local n = freeCode(ack)
    if tostring(n) ~= code then return n end
  end
  redis.call('SET', esc, body)
  redis.call('ZADD', escs, 0, id)
  if code ~= '' then redis.call('HSET', ack, code, id) end
  return true
end

if mode == 'safety' then
  -- KEYS once marker, urgent, stream, due, items
  -- ARGV now, until, ttl (ms), then queue's arguments
  local v = redis.call('GET', KEYS[1])
  if v and tonumber(v) > tonumber(ARGV[2]) then return {0, {}} end
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return {1, queue(KEYS[2], KEYS[3], KEYS[4], KEYS[5], 5)}
end

if mode == 'open' then
  -- KEYS client's open pointer, record, list, codes hash, urgent, stream, due, items
  -- ARGV record key prefix, id, body, code, then queue's arguments.
  -- The pointer names an open escalation: join it (nothing written). A
  -- pointer to a closed or missing one is stale and replaced.
  local cur = redis.call('GET', KEYS[1])
  if cur then
    local raw = redis.call('GET', ARGV[2] .. cur)
    if raw then
      local ok, e = pcall(cjson.decode, raw)
      if ok and e.status == 'open' then return {'joined', cur} end
    end
  end
  local r = record(KEYS[2], KEYS[3], KEYS[4], 3)
  if r ~= true then return {'code', r} end
  redis.call('SET', KEYS[1], ARGV[3])
  return {'opened', queue(KEYS[5], KEYS[6], KEYS[7], KEYS[8], 6)}
end

if mode == 'pointer' then
  -- KEYS client's open pointer; ARGV id, the stale value it may replace ("" none)
  local cur = redis.call('GET', KEYS[1])
  if cur and cur ~= ARGV[3] then return {'held', cur} end
  redis.call('SET', KEYS[1], ARGV[2])
  return {'ok'}
end

if mode == 'record' then
  -- KEYS record, list, codes hash; ARGV id, body, code
  local r = record(KEYS[1], KEYS[2], KEYS[3], 2)
  if r ~= true then return {'code', r} end
  return {'ok'}
end

if mode == 'queue' then
  -- KEYS urgent, stream, due, items; ARGV queue's arguments
  return {1, queue(KEYS[1], KEYS[2], KEYS[3], KEYS[4], 2)}
end

return redis.error_reply('crisis.lua: unknown mode ' .. tostring(mode))
