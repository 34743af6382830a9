-- Queue many durable server -> EA messages, of one or many accounts, in one call:
-- each exactly as enqueue.lua would (dedup by envelope id, the size cap, numbered at
-- once for an active session, else held). `deliver` is announced once per account,
-- with the highest seq numbered for it (a connection that already has it skips the read).
-- KEYS[1] an account hash of the call's partition, or nothing (single Redis)
-- ARGV[2] max entries per account, then triples [account id, envelope id, body]
-- -> flat {status, seq or -1, ...}: status 'ok' | 'dup' | 'full', in argument order
local limit = tonumber(ARGV[2])
local out = {}
local announce, order = {}, {}  -- account -> highest seq numbered; accounts in order
for i = 3, #ARGV, 3 do
  local a, id, body = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local ids, logk, heldk = k(T.ids, a), k(T.log, a), k(T.held, a)
  local existing = redis.call('HGET', ids, id)
  if existing then
    local seq = redis.call('ZSCORE', logk, existing)
    out[#out + 1] = 'dup'
    out[#out + 1] = seq and tonumber(seq) or -1
  elseif redis.call('ZCARD', logk) + redis.call('LLEN', heldk) >= limit then
    out[#out + 1] = 'full'
    out[#out + 1] = -1
  else
    local member = '*|' .. body
    redis.call('HSET', ids, id, member)
    if redis.call('HGET', k(T.account, a), 'active_sid') then
      out[#out + 1] = 'ok'
      local seq = number(a, member)
      out[#out + 1] = seq
      if not announce[a] then
        order[#order + 1] = a
      end
      announce[a] = tonumber(seq)
    else
      redis.call('RPUSH', heldk, member)
      out[#out + 1] = 'ok'
      out[#out + 1] = -1
    end
  end
end
for _, a in ipairs(order) do
  publish(a, {kind = 'deliver', seq = announce[a]})
end
return out
