-- Keep the highest ack_seq a live pending session reported (applied on promotion).
-- KEYS[1] the account hash, or nothing (single Redis: found from the session index)
-- ARGV[2] account id or '', [3] session id, [4] ack seq
-- -> 1 if kept, 0 if ignored (the session is not live and pending)
local sid = ARGV[3]
local a = account_of(sid, ARGV[2])
if not a then
  return 0
end
local skey = k(T.session, a, sid)
if redis.call('ZSCORE', k(T.sessions, a), sid) == false
    or redis.call('HGET', skey, 'state') ~= 'pending' then
  return 0
end
local ack = tonumber(ARGV[4])
if ack > tonumber(redis.call('HGET', skey, 'ack_seq') or '-1') then
  redis.call('HSET', skey, 'ack_seq', int(ack))
end
return 1
