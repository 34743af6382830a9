-- One session by id, live or recently closed.
-- ARGV[2] session id -> session hash (flat), empty if unknown or expired
local sid = ARGV[2]
local a = redis.call('HGET', T.index, sid)
if not a then
  return {}
end
return redis.call('HGETALL', k(T.session, a, sid))
