-- Logged messages with seq > after that the (active) session may receive; records
-- the highest seq returned (read_seq) as the ceiling of acknowledgements.
-- KEYS[1] account hash
-- ARGV[2] account id, [3] session id, [4] after seq, [5] limit
-- -> {member, seq, member, seq, ...}; empty unless the session is active
local a, sid = ARGV[2], ARGV[3]
if not is_active(a, sid) then
  return {}
end
local out = {}
local rows = redis.call('ZRANGEBYSCORE', k(T.log, a), '(' .. ARGV[4], '+inf', 'WITHSCORES',
                        'LIMIT', 0, tonumber(ARGV[5]))
local last = nil
for i = 1, #rows, 2 do
  local binding = split(rows[i])
  if binding == '*' or binding == sid then
    out[#out + 1] = rows[i]
    out[#out + 1] = int(rows[i + 1])
    last = tonumber(rows[i + 1])
  end
end
-- the highest seq ever handed to a transport: the ceiling of acknowledgements
local akey = k(T.account, a)
if last and last > tonumber(redis.call('HGET', akey, 'read_seq') or '0') then
  redis.call('HSET', akey, 'read_seq', int(last))
end
return out
