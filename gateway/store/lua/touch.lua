-- Record a heartbeat: last_heartbeat_ms and the deadline.
-- ARGV[2] session id, [3] now ms, [4] new deadline ms
-- -> {'ok'} | {'fenced', close reason or ''}
local sid = ARGV[2]
local a = redis.call('HGET', T.index, sid)
if not a then
  return {'fenced', ''}
end
local skey = k(T.session, a, sid)
local state = redis.call('HGET', skey, 'state')
if (not state) or state == 'closed' then
  return fenced(a, sid)
end
redis.call('HSET', skey, 'last_heartbeat_ms', ARGV[3])
redis.call('ZADD', T.deadlines, ARGV[4], a .. ' ' .. sid)
return {'ok'}
