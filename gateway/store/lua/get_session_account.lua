-- One session by id (live or recently closed) and its account's configuration, in
-- one call: what a transport needs to open the session's protocol.
-- KEYS[1] the account hash, or nothing (single Redis: found from the session index)
-- ARGV[2] account id or '', [3] session id, [4..] account hash fields to read
-- (RedisAccountStore's)
-- -> {session hash (flat), {those fields' values}}, empty if unknown or expired
local sid = ARGV[3]
local a = account_of(sid, ARGV[2])
if not a then
  return {}
end
local session = redis.call('HGETALL', k(T.session, a, sid))
if #session == 0 then
  return {}
end
return {session, redis.call('HMGET', k(T.account, a), unpack(ARGV, 4))}
