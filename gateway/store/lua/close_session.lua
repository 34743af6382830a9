-- Close a live session with any reason and announce it.
-- ARGV[2] session id, [3] reason, [4] now ms, [5] closed ttl s
-- -> session hash (flat) of the closed session, or {} if it was not live
local sid = ARGV[2]
local a = redis.call('HGET', T.index, sid)
if not a then
  return {}
end
if not close_one(a, sid, ARGV[3], ARGV[4], ARGV[5]) then
  return {}
end
return redis.call('HGETALL', k(T.session, a, sid))
