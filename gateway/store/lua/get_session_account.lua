-- One session by id (live or recently closed) and its account's configuration, in
-- one call: what a transport needs to open the session's protocol.
-- ARGV[2] session id, ARGV[3..] account hash fields to read (RedisAccountStore's)
-- -> {session hash (flat), {those fields' values}}, empty if unknown or expired
local sid = ARGV[2]
local a = redis.call('HGET', T.index, sid)
if not a then
  return {}
end
local session = redis.call('HGETALL', k(T.session, a, sid))
if #session == 0 then
  return {}
end
return {session, redis.call('HMGET', k(T.account, a), unpack(ARGV, 3))}
