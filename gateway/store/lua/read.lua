-- Reads of one or more accounts' logs, each after handing out reply seqs.
-- KEYS[1] the account hash for one read, or one of the call's partition, or nothing
-- ARGV[2..] groups of six: account id, session id, after seq, limit, replies, read (0/1)
-- For each group, in order: INCRBY the account's seq by `replies` (seqs for replies
-- written directly, as next_seq), then, if read = 1 and the session is active, the
-- logged messages with seq > after that the session may receive; records the
-- highest seq returned (read_seq) as the ceiling of acknowledgements.
-- -> per group: {last reply seq (0 if none), n, member, seq, ... (n pairs)}, flattened
local out = {}
for g = 2, #ARGV, 6 do
  local a, sid = ARGV[g], ARGV[g + 1]
  local replies = tonumber(ARGV[g + 4])
  local last_reply = 0
  if replies > 0 then
    last_reply = redis.call('INCRBY', k(T.seq, a), replies)
  end
  out[#out + 1] = int(last_reply)
  local count_at = #out + 1
  out[count_at] = 0
  if ARGV[g + 5] == '1' and is_active(a, sid) then
    local rows = redis.call('ZRANGEBYSCORE', k(T.log, a), '(' .. ARGV[g + 2], '+inf',
                            'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[g + 3]))
    local last, n = nil, 0
    for i = 1, #rows, 2 do
      local binding = split(rows[i])
      if binding == '*' or binding == sid then
        out[#out + 1] = rows[i]
        out[#out + 1] = int(rows[i + 1])
        last = tonumber(rows[i + 1])
        n = n + 1
      end
    end
    out[count_at] = n
    -- the highest seq ever handed to a transport: the ceiling of acknowledgements
    local akey = k(T.account, a)
    if last and last > tonumber(redis.call('HGET', akey, 'read_seq') or '0') then
      redis.call('HSET', akey, 'read_seq', int(last))
    end
  end
end
return out
