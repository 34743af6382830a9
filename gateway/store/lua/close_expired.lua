-- Close every live session whose heartbeat deadline is < now; each exactly once,
-- however many nodes run this at the same time (the script is atomic and removes
-- what it closes). Also forgets session-index entries of expired closed records.
-- ARGV[2] now ms, [3] limit, [4] closed ttl s
-- -> {session hash (flat) of each closed session}
local now, limit, ttl = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local out = {}
local due = redis.call('ZRANGEBYSCORE', T.deadlines, '-inf', '(' .. now, 'LIMIT', 0, limit)
for _, m in ipairs(due) do
  local i = string.find(m, ' ', 1, true)
  local a, sid = string.sub(m, 1, i - 1), string.sub(m, i + 1)
  redis.call('ZREM', T.deadlines, m)
  if close_one(a, sid, 'heartbeat_timeout', now, ttl) then
    out[#out + 1] = redis.call('HGETALL', k(T.session, a, sid))
  end
end
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', T.closed, '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('HDEL', T.index, sid)
  redis.call('ZREM', T.closed, sid)
end
return out
