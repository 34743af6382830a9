"""The copier's Lua scripts (kept here, not in ``gateway/store/lua``, which the gateway owns).

`COMMIT`: the one write of a follower decision. It checks the follower record's
version (optimistic concurrency: two workers deciding for one follower at once
cannot both win; the loser re-reads and re-decides), stores the new record,
runs the decision's other writes (copy records, outbox entries, subscription
status changes, audit entries) and trims old copy records, all atomically.

`OUTBOX_DONE`: after the delivery log accepted envelopes, drop them from the
outbox, remember when they were first queued, and re-score the outbox index.

`RELEASE`: delete a lock only if it still holds our token.
"""

from __future__ import annotations

__all__ = ["COMMIT", "COMMIT_OPS", "OUTBOX_DONE", "RELEASE"]

#: Redis commands a COMMIT may carry in its op list.
COMMIT_OPS = frozenset({"HSET", "HDEL", "ZADD", "XADD", "HSETNX"})

COMMIT = """
-- KEYS[1] follower state hash, [2] copies hash, [3] copies index, [4] queued times,
--   [5] delivered times
-- ARGV[1] expected version, [2] new state, [3] JSON list of ops, [4] copies kept
-- -> {'ok', new version} | {'conflict', current version}
local unpack = unpack or table.unpack
local allowed = {HSET = true, HDEL = true, ZADD = true, XADD = true, HSETNX = true}
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then
  return {'conflict', v}
end
redis.call('HSET', KEYS[1], 'v', v + 1, 'state', ARGV[2])
for _, op in ipairs(cjson.decode(ARGV[3])) do
  if not allowed[op[1]] then
    return redis.error_reply('copier commit: op not allowed: ' .. tostring(op[1]))
  end
  redis.call(unpack(op))
end
local keep = tonumber(ARGV[4])
local n = redis.call('ZCARD', KEYS[3])
if n > keep then
  local old = redis.call('ZRANGE', KEYS[3], 0, n - keep - 1)
  for _, id in ipairs(old) do
    redis.call('HDEL', KEYS[2], id)
    for _, suffix in ipairs({'', '.r1', '.r2', '.r3'}) do
      redis.call('HDEL', KEYS[4], id .. suffix)
      redis.call('HDEL', KEYS[5], id .. suffix)
    end
  end
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, n - keep - 1)
end
return {'ok', v + 1}
"""

OUTBOX_DONE = """
-- KEYS[1] outbox hash, [2] outbox index, [3] queued times
-- ARGV[1] account id, [2] now ms, [3..] envelope ids the delivery log accepted
for i = 3, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[2])
end
local earliest = nil
for _, value in ipairs(redis.call('HVALS', KEYS[1])) do
  local due = tonumber(string.match(value, '^(%d+)|'))
  if due and (earliest == nil or due < earliest) then
    earliest = due
  end
end
if earliest == nil then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[2], string.format('%d', earliest), ARGV[1])
return 1
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
