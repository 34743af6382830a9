-- Log a message for the active session only (fenced); announces `deliver`.
-- KEYS[1] account hash
-- ARGV[2] account id, [3] session id, [4] body (JSON without seq)
-- -> {'ok', seq} | {'fenced', close reason or ''}
local a, sid = ARGV[2], ARGV[3]
if not is_active(a, sid) then
  return fenced(a, sid)
end
local seq = number(a, sid .. '|' .. ARGV[4])
publish(a, {kind = 'deliver'})
return {'ok', seq}
