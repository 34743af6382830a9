-- The heartbeat of an active session, in one call: touch (last_heartbeat_ms and the
-- deadline), keep the StatusHeartbeat payload in ea-state, then acknowledge (fenced,
-- clamped like ack.lua).
-- KEYS[1] account hash
-- ARGV[2] account id, [3] session id, [4] now ms, [5] new deadline ms,
-- [6] StatusHeartbeat payload (JSON), [7] ack seq
-- -> {'ok', acked seq} | {'fenced', close reason or ''}
local a, sid, now = ARGV[2], ARGV[3], ARGV[4]
if not is_active(a, sid) then
  return fenced(a, sid)
end
redis.call('HSET', k(T.session, a, sid), 'last_heartbeat_ms', now)
redis.call('ZADD', T.deadlines, ARGV[5], a .. ' ' .. sid)
redis.call('HSET', k(T.ea_state, a), 'status', ARGV[6], 'status_ms', now)
return {'ok', drop_acked(a, ARGV[7])}
