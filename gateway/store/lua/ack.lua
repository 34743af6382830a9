-- Acknowledge (fenced): drop every message with seq <= ack, clamped to the highest
-- seq `read` ever returned.
-- KEYS[1] account hash
-- ARGV[2] account id, [3] session id, [4] ack seq
-- -> {'ok', acked seq} | {'fenced', close reason or ''}
local a, sid = ARGV[2], ARGV[3]
if not is_active(a, sid) then
  return fenced(a, sid)
end
return {'ok', drop_acked(a, ARGV[4])}
