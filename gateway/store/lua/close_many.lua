-- Close many live sessions with one reason and announce each (close_session.lua for
-- a batch, e.g. every session of a node that shuts down).
-- ARGV[2] reason, [3] now ms, [4] closed ttl s, [5..] session ids
-- -> {session hash (flat) of each session closed here}; ids not live are skipped
local closed = {}
for i = 5, #ARGV do
  local sid = ARGV[i]
  local a = redis.call('HGET', T.index, sid)
  if a and close_one(a, sid, ARGV[2], ARGV[3], ARGV[4]) then
    closed[#closed + 1] = redis.call('HGETALL', k(T.session, a, sid))
  end
end
return closed
