"""The copier's Lua scripts (kept here, not in ``gateway/store/lua``, which the gateway owns).

`COMMIT`: the one write of a follower decision. It checks the follower record's
version (optimistic concurrency: two workers deciding for one follower at once
cannot both win; the loser re-reads and re-decides), stores the new record,
runs the decision's other writes (copy records, outbox entries, subscription
status changes, audit entries) and trims old copy records, all atomically.

`OUTBOX_DONE`: after the delivery log took envelopes (of any number of
accounts, in one call), drop them from the outboxes, remember when they were
first queued, and re-score the outbox index.

`RELEASE`: delete a lock only if it still holds our token.
"""

from __future__ import annotations

from copier.keys import CopierKeys

__all__ = ["COMMIT", "COMMIT_OPS", "OUTBOX_DONE", "RELEASE", "outbox_templates"]

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
-- After the delivery log took (or refused) envelopes of one or many accounts: drop
-- them from each account's outbox, remember when the queued ones were first queued,
-- and re-score (or remove) the account in the outbox index.
-- ARGV[1] key templates (outbox, outbox index, queued times; byte 1 = account id),
-- [2] now ms, then per account: [account id, n queued, n refused, queued ids...,
-- refused ids...]
local t = {}
for line in string.gmatch(ARGV[1], '[^\\n]+') do
  t[#t + 1] = line
end
local function key(tpl, a)
  local i = string.find(tpl, '\\1', 1, true)
  return string.sub(tpl, 1, i - 1) .. a .. string.sub(tpl, i + 1)
end
local now = ARGV[2]
local i = 3
while i <= #ARGV do
  local a, nq, nr = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local outbox, queued = key(t[1], a), key(t[3], a)
  for j = i + 3, i + 2 + nq do
    redis.call('HDEL', outbox, ARGV[j])
    redis.call('HSETNX', queued, ARGV[j], now)
  end
  for j = i + 3 + nq, i + 2 + nq + nr do
    redis.call('HDEL', outbox, ARGV[j])
  end
  i = i + 3 + nq + nr
  local earliest = nil
  for _, value in ipairs(redis.call('HVALS', outbox)) do
    local due = tonumber(string.match(value, '^(%d+)|'))
    if due and (earliest == nil or due < earliest) then
      earliest = due
    end
  end
  if earliest == nil then
    redis.call('ZREM', t[2], a)
  else
    redis.call('ZADD', t[2], string.format('%d', earliest), a)
  end
end
return 1
"""


def outbox_templates(keys: CopierKeys) -> bytes:
    """ARGV[1] of `OUTBOX_DONE`: outbox, outbox index and queued-times key templates."""
    a = "\x01"
    return "\n".join((keys.outbox(a), keys.outbox_index(), keys.queued_times(a))).encode()


RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
