-- Claim entries handed to a connection straight after their enqueue (the local
-- handoff), as a read would: only for the account's active session, and the
-- highest seq handed becomes the ceiling of acknowledgements (read_seq).
-- KEYS[1] an account hash of the call's partition, or nothing (single Redis)
-- ARGV[2..] triples: account id, session id, highest seq handed
-- -> {1 | 0, ...}: 1 = the session is active (the entries may be written), 0 = not
local out = {}
for g = 2, #ARGV, 3 do
  local a, sid, last = ARGV[g], ARGV[g + 1], tonumber(ARGV[g + 2])
  if is_active(a, sid) then
    local akey = k(T.account, a)
    if last > tonumber(redis.call('HGET', akey, 'read_seq') or '0') then
      redis.call('HSET', akey, 'read_seq', int(last))
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
