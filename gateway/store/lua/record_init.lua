-- The InitRequest of an active session, in one call: keep its payload in ea-state
-- (as IntentSink.record_ea_state(kind='init')), then acknowledge (fenced, clamped
-- like ack.lua). The pair that heartbeat.lua is for a StatusHeartbeat.
-- KEYS[1] account hash
-- ARGV[2] account id, [3] session id, [4] now ms, [5] InitRequest payload (JSON),
-- [6] ack seq
-- -> {'ok', acked seq} | {'fenced', close reason or ''}
local a, sid = ARGV[2], ARGV[3]
if not is_active(a, sid) then
  return fenced(a, sid)
end
redis.call('HSET', k(T.ea_state, a), 'init', ARGV[5], 'init_ms', ARGV[4])
return {'ok', drop_acked(a, ARGV[6])}
