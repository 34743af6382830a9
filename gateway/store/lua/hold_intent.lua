-- Keep an OrderIntent of a live pending session, in arrival order.
-- KEYS[1] account hash
-- ARGV[2] account id, [3] session id, [4] body, [5] max held intents per account
-- -> {'ok'} | {'full'} | {'fenced', close reason or ''}
local a, sid = ARGV[2], ARGV[3]
if redis.call('ZSCORE', k(T.sessions, a), sid) == false
    or redis.call('HGET', k(T.session, a, sid), 'state') ~= 'pending' then
  return fenced(a, sid)
end
local key = k(T.held_intents, a)
if redis.call('LLEN', key) >= tonumber(ARGV[5]) then
  return {'full'}
end
redis.call('RPUSH', key, sid .. '|' .. ARGV[4])
return {'ok'}
