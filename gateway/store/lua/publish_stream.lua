-- Append an event of the active session to a stream (fenced).
-- KEYS[1] account hash
-- ARGV[2] account id, [3] session id, [4] body, [5] 'intents' | 'ea_inbox',
-- [6] MAXLEN (approximate), [7] W3C traceparent of the receiving span ('' if none)
-- -> {'ok', stream id} | {'fenced', close reason or ''}
local a, sid = ARGV[2], ARGV[3]
if not is_active(a, sid) then
  return fenced(a, sid)
end
return {'ok', xadd(T[ARGV[5]], ARGV[6], a, sid, ARGV[4], ARGV[7])}
