-- Drop every message with seq <= ack (clamped to the last seq handed out), fenced.
-- KEYS[1] account hash
-- ARGV[2] account id, [3] session id, [4] ack seq
-- -> {'ok', acked seq} | {'fenced', close reason or ''}
local a, sid = ARGV[2], ARGV[3]
if not is_active(a, sid) then
  return fenced(a, sid)
end
local akey, logk, ids = k(T.account, a), k(T.log, a), k(T.ids, a)
local upto = math.min(tonumber(ARGV[4]), tonumber(redis.call('GET', k(T.seq, a)) or '0'))
for _, m in ipairs(redis.call('ZRANGEBYSCORE', logk, '-inf', int(upto))) do
  local binding, body = split(m)
  if binding == '*' then
    local ok, envelope = pcall(cjson.decode, body)
    if ok and type(envelope) == 'table' and type(envelope.id) == 'string' then
      redis.call('HDEL', ids, envelope.id)
    end
  end
end
redis.call('ZREMRANGEBYSCORE', logk, '-inf', int(upto))
local acked = math.max(upto, tonumber(redis.call('HGET', akey, 'acked_seq') or '0'))
redis.call('HSET', akey, 'acked_seq', int(acked))
return {'ok', acked}
