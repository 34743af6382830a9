-- Create a session; an authenticated one is activated at once (see activate();
-- numbered messages keep their seqs, held ones are numbered after them).
-- With a fingerprint (ARGV[12]), the same call first re-authenticates a
-- verified key (the reconnect fast path, see gateway/auth/session_key.py): count
-- the creation in the caller's sliding rate-limit window, look the keyed fingerprint up,
-- and let the key's status decide: approved -> authenticated (last_seen_ms moves
-- forward), pending -> pending, rejected / revoked -> refused (nothing created);
-- ARGV[5] and ARGV[6] are ignored then.
-- KEYS[1] account hash; with a fingerprint also [2] the account's key records,
-- [3] its key fingerprints, [4] the rate-limit hit log (absent: not counted here)
-- ARGV[2] account id, [3] session id, [4] token hash, [5] key id ('' = none),
-- [6] '1' authenticated / '0' pending, [7] now ms, [8] deadline ms,
-- [9] max pending sessions, [10] client JSON ('' = none), [11] closed ttl s,
-- [12] fingerprint (absent or '' = none), [13] rate limit, [14] rate window ms
-- -> {'too_many', key id} | {'ok', session hash (flat), {preempted ids}, key id}
--    | {'limited', ms until allowed} | {'unknown'} | {'refused', key status, key id}
local a, sid, now = ARGV[2], ARGV[3], ARGV[7]
local key_id = ARGV[5]
local authenticated = ARGV[6] == '1'
if (ARGV[12] or '') ~= '' then
  if KEYS[4] then  -- on Redis Cluster the caller counts the hit before (another slot)
    local wait = rate_hit(KEYS[4], now, ARGV[14], ARGV[13])
    if wait > 0 then
      return {'limited', wait}
    end
  end
  key_id = redis.call('HGET', KEYS[3], ARGV[12])
  local raw = key_id and redis.call('HGET', KEYS[2], key_id)
  if not raw then
    return {'unknown'}
  end
  local key = cjson.decode(raw)
  if key['status'] == 'approved' then
    authenticated = true
    -- touch: the record is Python's JSON (gateway/store/key_store.py encode_key), whose
    -- top-level last_seen_ms precedes the only free-form field (client), so the first
    -- match is that field; the rest of the record is left byte for byte as it was
    local seen = key['last_seen_ms']
    if type(seen) ~= 'number' or seen < tonumber(now) then
      local touched, n = string.gsub(raw, '"last_seen_ms":[%dnul]+', '"last_seen_ms":' .. now, 1)
      if n == 1 then
        redis.call('HSET', KEYS[2], key_id, touched)
      end
    end
  elseif key['status'] == 'pending' then
    authenticated = false
  else
    return {'refused', key['status'], key_id}
  end
end
local sessions = k(T.sessions, a)
if not authenticated then
  local pending = 0
  for _, other in ipairs(redis.call('ZRANGE', sessions, 0, -1)) do
    if redis.call('HGET', k(T.session, a, other), 'state') == 'pending' then
      pending = pending + 1
    end
  end
  if pending >= tonumber(ARGV[9]) then
    return {'too_many', key_id}
  end
end
local skey = k(T.session, a, sid)
redis.call('DEL', skey)
redis.call('HSET', skey, 'session_id', sid, 'account_id', a, 'state', 'pending',
           'generation', '0', 'token_hash', ARGV[4], 'created_ms', now,
           'last_heartbeat_ms', now, 'counted', '1')
if key_id ~= '' then redis.call('HSET', skey, 'key_id', key_id) end
if ARGV[10] ~= '' then redis.call('HSET', skey, 'client', ARGV[10]) end
redis.call('ZADD', sessions, now, sid)
redis.call('HINCRBY', T.counts, 'pending', 1)
if T.index ~= '-' then redis.call('HSET', T.index, sid, a) end
redis.call('ZADD', T.deadlines, ARGV[8], a .. ' ' .. sid)
local preempted = {}
if authenticated then
  local _
  _, preempted = activate(a, sid, now, ARGV[11], {}, false)
  publish(a, {kind = 'deliver'})
end
return {'ok', redis.call('HGETALL', skey), preempted, key_id}
