-- Create a session; an authenticated one is activated at once (see activate();
-- numbered messages keep their seqs, held ones are numbered after them).
-- KEYS[1] account hash
-- ARGV[2] account id, [3] session id, [4] token hash, [5] key id ('' = none),
-- [6] '1' authenticated / '0' pending, [7] now ms, [8] deadline ms,
-- [9] max pending sessions, [10] client JSON ('' = none), [11] closed ttl s
-- -> {'too_many'} | {'ok', session hash (flat), {preempted ids}}
local a, sid, now = ARGV[2], ARGV[3], ARGV[7]
local authenticated = ARGV[6] == '1'
local sessions = k(T.sessions, a)
if not authenticated then
  local pending = 0
  for _, other in ipairs(redis.call('ZRANGE', sessions, 0, -1)) do
    if redis.call('HGET', k(T.session, a, other), 'state') == 'pending' then
      pending = pending + 1
    end
  end
  if pending >= tonumber(ARGV[9]) then
    return {'too_many'}
  end
end
local skey = k(T.session, a, sid)
redis.call('DEL', skey)
redis.call('HSET', skey, 'session_id', sid, 'account_id', a, 'state', 'pending',
           'generation', '0', 'token_hash', ARGV[4], 'created_ms', now,
           'last_heartbeat_ms', now)
if ARGV[5] ~= '' then redis.call('HSET', skey, 'key_id', ARGV[5]) end
if ARGV[10] ~= '' then redis.call('HSET', skey, 'client', ARGV[10]) end
redis.call('ZADD', sessions, now, sid)
redis.call('HSET', T.index, sid, a)
redis.call('ZADD', T.deadlines, ARGV[8], a .. ' ' .. sid)
local preempted = {}
if authenticated then
  local _
  _, preempted = activate(a, sid, now, ARGV[11], {}, false)
  publish(a, {kind = 'deliver'})
end
return {'ok', redis.call('HGETALL', skey), preempted}
