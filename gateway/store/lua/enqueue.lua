-- Queue a durable server -> EA message, deduplicated by envelope id.
-- Numbered at once when the account has an active session (and `deliver` is
-- announced), else held unnumbered until one activates.
-- KEYS[1] account hash
-- ARGV[2] account id, [3] envelope id, [4] body (JSON without seq), [5] max entries
-- -> {'dup', seq or -1} | {'full'} | {'ok', seq or -1}
local a, id = ARGV[2], ARGV[3]
local ids, logk, heldk = k(T.ids, a), k(T.log, a), k(T.held, a)
local existing = redis.call('HGET', ids, id)
if existing then
  local seq = redis.call('ZSCORE', logk, existing)
  return {'dup', seq and tonumber(seq) or -1}
end
if redis.call('ZCARD', logk) + redis.call('LLEN', heldk) >= tonumber(ARGV[5]) then
  return {'full'}
end
local member = '*|' .. ARGV[4]
redis.call('HSET', ids, id, member)
if redis.call('HGET', k(T.account, a), 'active_sid') then
  local seq = number(a, member)
  publish(a, {kind = 'deliver'})
  return {'ok', seq}
end
redis.call('RPUSH', heldk, member)
return {'ok', -1}
