-- Close a live session with any reason and announce it.
-- KEYS[1] the account hash, or nothing (single Redis: found from the session index)
-- ARGV[2] account id or '', [3] session id, [4] reason, [5] now ms, [6] closed ttl s
-- -> session hash (flat) of the closed session, or {} if it was not live
local sid = ARGV[3]
local a = account_of(sid, ARGV[2])
if not a then
  return {}
end
if not close_one(a, sid, ARGV[4], ARGV[5], ARGV[6]) then
  return {}
end
return redis.call('HGETALL', k(T.session, a, sid))
