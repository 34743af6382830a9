-- Close every live session whose heartbeat deadline is < now; each exactly once,
-- however many nodes run this at the same time (the script is atomic and removes
-- what it closes). Also forgets session-index entries of expired closed records
-- (on Redis Cluster, where the index is elsewhere, returns their ids instead).
-- KEYS[1] the partition's deadlines zset (routes the call)
-- ARGV[2] now ms, [3] limit, [4] closed ttl s
-- -> {{session hash (flat) of each closed session}, {expired ids to forget}}
local now, limit, ttl = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local out, forget = {}, {}
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
  if T.index == '-' then
    forget[#forget + 1] = sid
  else
    redis.call('HDEL', T.index, sid)
  end
  redis.call('ZREM', T.closed, sid)
end
return {out, forget}
