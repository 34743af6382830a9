-- Shared helpers, prepended to every copygate script (see gateway/store/scripts.py).
--
-- ARGV[1]: key templates, one per line, in the order of `names` below; byte \1
-- stands for the account id and \2 for the session id. On Redis Cluster they are
-- the templates of the call's partition (every key in one slot, KEYS[1] among
-- them), and `index` is '-': the session index is kept by the caller there.
-- Data layout (see gateway/store/keys.py):
--   account hash: gen, active_sid, acked_seq, read_seq (+ account config fields)
--   session hash: the SessionRecord fields (client as JSON); ack_seq of a pending
--                 session (remember_ack)
--   log zset:     score seq, member "<binding>|<envelope json without seq>"
--   held list:    durable members "*|<json>" waiting for an active session
--   held intents: "<session id>|<OrderIntent json>"
--   deadlines:    member "<account id> <session id>", score deadline ms
--   counts:       live sessions by state (pending, authenticated), kept by
--                 create_session, activate and close_one (the only state changes)
--                 for sessions marked `counted` at creation (older ones are not in it)
local unpack = unpack or table.unpack
local T = {}
do
  local names = {'account', 'seq', 'sessions', 'session', 'log', 'ids', 'held',
                 'held_intents', 'events', 'index', 'deadlines', 'closed', 'intents',
                 'ea_inbox', 'ea_state', 'counts'}
  local i = 1
  for line in string.gmatch(ARGV[1], '[^\n]+') do
    T[names[i]] = line
    i = i + 1
  end
end

-- The account of session `sid`: `given` when the caller knows it (always on Redis
-- Cluster, where the session index lives in the session id's own partition and
-- T.index is '-'), else the session index's entry (nil if unknown).
local function account_of(sid, given)
  if given ~= '' then return given end
  if T.index == '-' then return nil end
  return redis.call('HGET', T.index, sid)
end

-- A key from a template: account id `a`, optionally session id `s`.
local function k(tpl, a, s)
  local i = string.find(tpl, '\1', 1, true)
  local out = string.sub(tpl, 1, i - 1) .. a .. string.sub(tpl, i + 1)
  if s then
    local j = string.find(out, '\2', i + #a, true)
    out = string.sub(out, 1, j - 1) .. s .. string.sub(out, j + 1)
  end
  return out
end

-- Integers as decimal strings (never "1e+12"), whatever Lua number they are.
local function int(n)
  return string.format('%d', tonumber(n))
end

-- "<binding>|<rest>" -> binding, rest
local function split(m)
  local i = string.find(m, '|', 1, true)
  return string.sub(m, 1, i - 1), string.sub(m, i + 1)
end

-- Redis Cluster (index '-'): sharded pub/sub, the message stays on the account's shard
local PUBLISH = T.index == '-' and 'SPUBLISH' or 'PUBLISH'

local function publish(a, event)
  redis.call(PUBLISH, k(T.events, a), cjson.encode(event))
end

local function is_active(a, sid)
  return redis.call('HGET', k(T.account, a), 'active_sid') == sid
end

-- {'fenced', close reason or ''}: the answer of a fenced write.
local function fenced(a, sid)
  local reason = redis.call('HGET', k(T.session, a, sid), 'closed_reason')
  return {'fenced', reason or ''}
end

-- RPUSH a (possibly long) list in chunks that fit Lua's unpack().
local function push_all(key, items)
  for i = 1, #items, 1000 do
    redis.call('RPUSH', key, unpack(items, i, math.min(i + 999, #items)))
  end
end

-- Remove every held OrderIntent of session `sid`; returns their bodies in order.
local function take_intents(a, sid)
  local key = k(T.held_intents, a)
  local mine, rest = {}, {}
  for _, m in ipairs(redis.call('LRANGE', key, 0, -1)) do
    local binding, body = split(m)
    if binding == sid then mine[#mine + 1] = body else rest[#rest + 1] = m end
  end
  if #mine > 0 then
    redis.call('DEL', key)
    push_all(key, rest)
  end
  return mine
end

-- Close one live session of account `a`; false if it was not live.
local function close_one(a, sid, reason, now, ttl)
  local skey = k(T.session, a, sid)
  local state, counted = unpack(redis.call('HMGET', skey, 'state', 'counted'))
  redis.call('ZREM', k(T.sessions, a), sid)
  redis.call('ZREM', T.deadlines, a .. ' ' .. sid)
  if (not state) or state == 'closed' then
    return false
  end
  redis.call('HSET', skey, 'state', 'closed', 'closed_reason', reason, 'closed_ms', now)
  if counted then redis.call('HINCRBY', T.counts, state, -1) end
  redis.call('EXPIRE', skey, ttl)
  redis.call('ZADD', T.closed, int(tonumber(now) + tonumber(ttl) * 1000), sid)
  local akey = k(T.account, a)
  if redis.call('HGET', akey, 'active_sid') == sid then
    redis.call('HDEL', akey, 'active_sid')
  end
  if state == 'pending' then
    take_intents(a, sid)
  end
  publish(a, {kind = 'closed', session_id = sid, reason = reason})
  return true
end

-- Give `member` the next seq of the account (adds it, or renumbers it in place).
local function number(a, member)
  local seq = redis.call('INCR', k(T.seq, a))
  redis.call('ZADD', k(T.log, a), int(seq), member)
  return seq
end

-- Acknowledge up to `ack`, clamped to the highest seq `read` ever returned (a message
-- no transport was handed cannot be acknowledged): drop those entries (and the
-- id-index entries of the durable ones); acked_seq = max. Returns acked_seq.
local function drop_acked(a, ack)
  local akey, logk, ids = k(T.account, a), k(T.log, a), k(T.ids, a)
  local upto = math.min(tonumber(ack), tonumber(redis.call('HGET', akey, 'read_seq') or '0'))
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', logk, '-inf', int(upto))) do
    local binding, body = split(m)
    if binding == '*' then
      local ok, envelope = pcall(cjson.decode, body)
      if ok and type(envelope) == 'table' and type(envelope.id) == 'string' then
        redis.call('HDEL', ids, envelope.id)
      end
    end
  end
  redis.call('ZREMRANGEBYSCORE', logk, '-inf', int(upto))
  local acked = math.max(upto, tonumber(redis.call('HGET', akey, 'acked_seq') or '0'))
  redis.call('HSET', akey, 'acked_seq', int(acked))
  return acked
end

-- Make `sid` the account's active session (the session must be live): preempt every
-- other live session, drop log entries bound to other sessions, log `opening`
-- (bodies bound to sid). With `renumber` (promotion) the unacknowledged durable
-- entries get new seqs after the opening messages; without it (creation) they keep
-- theirs, so the EA's ack_seq still refers to them. Held messages are numbered
-- last. Returns gen, {preempted ids}.
local function activate(a, sid, now, ttl, opening, renumber)
  local akey = k(T.account, a)
  local gen = redis.call('HINCRBY', akey, 'gen', 1)
  local preempted = {}
  for _, other in ipairs(redis.call('ZRANGE', k(T.sessions, a), 0, -1)) do
    if other ~= sid and close_one(a, other, 'preempted', now, ttl) then
      preempted[#preempted + 1] = other
    end
  end
  redis.call('HSET', akey, 'active_sid', sid)
  local skey = k(T.session, a, sid)
  redis.call('HSET', skey, 'state', 'authenticated', 'generation', int(gen))
  if redis.call('HEXISTS', skey, 'counted') == 1 then
    redis.call('HINCRBY', T.counts, 'pending', -1)
    redis.call('HINCRBY', T.counts, 'authenticated', 1)
  end
  local logk = k(T.log, a)
  local durable = {}
  for _, m in ipairs(redis.call('ZRANGE', logk, 0, -1)) do
    local binding = split(m)
    if binding == '*' then
      durable[#durable + 1] = m
    elseif binding ~= sid then
      redis.call('ZREM', logk, m)
    end
  end
  for _, body in ipairs(opening) do
    number(a, sid .. '|' .. body)
  end
  if renumber then
    for _, m in ipairs(durable) do
      number(a, m)
    end
  end
  local heldk = k(T.held, a)
  for _, m in ipairs(redis.call('LRANGE', heldk, 0, -1)) do
    number(a, m)
  end
  redis.call('DEL', heldk)
  return gen, preempted
end

-- Append to a stream; returns the entry id. `maxlen` > 0 trims it to about that
-- length (tests only: a length bound drops entries the copier has not finished);
-- copygate passes 0 and trims only finished entries (copier/backlog.py, trim_finished).
-- `tp`: the W3C traceparent of the span that received the event ('' or nil: none)
local function xadd(stream, maxlen, a, sid, body, tp)
  local args = {'XADD', stream}
  if tonumber(maxlen) > 0 then
    args[#args + 1], args[#args + 2], args[#args + 3] = 'MAXLEN', '~', maxlen
  end
  args[#args + 1] = '*'
  for _, v in ipairs({'account_id', a, 'session_id', sid, 'body', body}) do
    args[#args + 1] = v
  end
  if tp and tp ~= '' then
    args[#args + 1], args[#args + 2] = 'traceparent', tp
  end
  return redis.call(unpack(args))
end

-- Sliding-window rate limit (gateway/store/rate_limiter.py): at most `limit` hits in
-- any `window_ms`, kept as a log of hit times (zset `key`, member "<now>-<n>").
-- Returns 0 when this hit is allowed (and logged), else the ms until the oldest
-- logged hit leaves the window (at least 1). Refused hits are not logged.
local function rate_hit(key, now, window_ms, limit)
  now, window_ms, limit = tonumber(now), tonumber(window_ms), tonumber(limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_ms)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local wait = window_ms
    if oldest[2] then wait = tonumber(oldest[2]) + window_ms - now end
    return math.max(1, wait)
  end
  redis.call('ZADD', key, now, int(now) .. '-' .. int(count))
  redis.call('PEXPIRE', key, window_ms)
  return 0
end
