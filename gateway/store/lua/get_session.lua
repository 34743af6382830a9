-- One session by id, live or recently closed.
-- KEYS[1] the account hash, or nothing (single Redis: found from the session index)
-- ARGV[2] account id or '', [3] session id
-- -> session hash (flat), empty if unknown or expired
local sid = ARGV[3]
local a = account_of(sid, ARGV[2])
if not a then
  return {}
end
return redis.call('HGETALL', k(T.session, a, sid))
