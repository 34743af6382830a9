-- Close many live sessions with one reason and announce each (close_session.lua for
-- a batch, e.g. every session of a node that shuts down).
-- KEYS[1] an account hash of the call's partition, or nothing
-- ARGV[2] reason, [3] now ms, [4] closed ttl s, [5..] pairs (account id or '', session id)
-- -> {session hash (flat) of each session closed here}; ids not live are skipped
local closed = {}
for i = 5, #ARGV, 2 do
  local sid = ARGV[i + 1]
  local a = account_of(sid, ARGV[i])
  if a and close_one(a, sid, ARGV[2], ARGV[3], ARGV[4]) then
    closed[#closed + 1] = redis.call('HGETALL', k(T.session, a, sid))
  end
end
return closed
