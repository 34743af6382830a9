-- Record a heartbeat: last_heartbeat_ms and the deadline.
-- KEYS[1] the account hash, or nothing (single Redis: found from the session index)
-- ARGV[2] account id or '', [3] session id, [4] now ms, [5] new deadline ms
-- -> {'ok'} | {'fenced', close reason or ''}
local sid = ARGV[3]
local a = account_of(sid, ARGV[2])
if not a then
  return {'fenced', ''}
end
local skey = k(T.session, a, sid)
local state = redis.call('HGET', skey, 'state')
if (not state) or state == 'closed' then
  return fenced(a, sid)
end
redis.call('HSET', skey, 'last_heartbeat_ms', ARGV[4])
redis.call('ZADD', T.deadlines, ARGV[5], a .. ' ' .. sid)
return {'ok'}
