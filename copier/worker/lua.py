"""The copier's Lua scripts (kept here, not in ``gateway/store/lua``, which the gateway owns).

`LOAD_MANY`: what deciding needs for many followers in one call: each record's
version and epoch (the decoded record is cached by them), the EA state fields
and the copy record asked for.

`COMMIT_MANY`: the writes of many follower decisions in one call. Each decision
is checked against its follower record's version (optimistic concurrency: two
workers deciding for one follower at once cannot both win; the loser re-reads
and re-decides) and, if it matches, applied: the new version, the record's
state field and only the link fields that changed, the decision's other writes
(copy records, outbox entries, subscription status changes, audit entries) and
the trim of old copy records. A decision that loses its check writes nothing;
the others are applied (the whole call is atomic anyway).

`OUTBOX_CLAIM` and `OUTBOX_DONE`: the outbox flush (`copier.worker.outbox_lua`).

`RECORD_DELIVERED`: the first hand-out time of OrderCommands of many accounts
(``HSETNX`` into each account's delivered-times hash, which then expires a week
after its last write).

`ENTER`: take an account's partition lock and, if taken, read what ordering
needs in the same call: the account's mark (last entry fully processed) and the
oldest entry pending in the consumer group.

`RELEASE`: delete a lock only if it still holds our token.
"""

from __future__ import annotations

from copier.keys import CopierKeys
from gateway.store.keys import RedisKeys
from gateway.store.scripts import NETSTRINGS_LUA

__all__ = [
    "COMMIT_MANY",
    "COMMIT_OPS",
    "ENTER",
    "FAN_OUT_SPLIT",
    "KEY_FROM_TEMPLATE",
    "LOAD_MANY",
    "RECORD_DELIVERED",
    "RELEASE",
    "commit_templates",
    "load_templates",
]

#: Redis commands a COMMIT_MANY decision may carry in its op list.
COMMIT_OPS = frozenset({"HSET", "HDEL", "ZADD", "XADD", "HSETNX"})

#: Lua helpers every script starts with: key(template, account), nxt(), templates().
KEY_FROM_TEMPLATE = (
    """
local function key(tpl, a)
  local i = string.find(tpl, '\\1', 1, true)
  return string.sub(tpl, 1, i - 1) .. a .. string.sub(tpl, i + 1)
end
"""
    + NETSTRINGS_LUA
    + """
local function templates(arg)
  local t = {}
  for line in string.gmatch(arg, '[^\\n]+') do
    t[#t + 1] = line
  end
  return t
end
"""
)

LOAD_MANY = (
    KEY_FROM_TEMPLATE
    + """
-- What deciding for many followers needs, in one call.
-- ARGV[1] key templates (follower record, ea-state, copies; byte 1 = account id),
-- [2] netstrings: pairs (follower id, copy record id or '').
-- -> per follower 5 values: v, e, ea-state init_ms, ea-state status, copy record
--    (nil where absent)
local t = templates(ARGV[1])
blob = ARGV[2]
local out = {}
while pos <= #blob do
  local a, copy_id = nxt(), nxt()
  local rec = redis.call('HMGET', key(t[1], a), 'v', 'e')
  local ea = redis.call('HMGET', key(t[2], a), 'init_ms', 'status')
  local copy = false
  if copy_id ~= '' then
    copy = redis.call('HGET', key(t[3], a), copy_id)
  end
  out[#out + 1] = rec[1]
  out[#out + 1] = rec[2]
  out[#out + 1] = ea[1]
  out[#out + 1] = ea[2]
  out[#out + 1] = copy
end
return out
"""
)

COMMIT_MANY = (
    KEY_FROM_TEMPLATE
    + """
-- The decisions of many followers; each is checked and applied on its own.
-- ARGV[1] key templates (follower record, copies, copies index, queued times,
--   delivered times, outbox, outbox index; byte 1 = account id),
-- [2] copy records kept per follower,
-- [3] the decisions as netstrings ('<length>:<bytes>'), per decision:
--   follower, expected version, epoch (used if the record is new), state,
--   n, n x (link field, value), n, n x dropped link field,
--   n, n x (copy id, score, copy record), n, n x (envelope id, due ms, outbox value),
--   n, n x envelope id withdrawn (dropped from the outbox unless a flush claimed it),
--   n, n x (k, k x op argument)   (other writes: an allowed Redis command each)
-- -> per decision 3 values: 'ok' | 'conflict', version now, epoch now
local unpack = unpack or table.unpack
local allowed = {HSET = true, HDEL = true, ZADD = true, XADD = true, HSETNX = true}
local t = templates(ARGV[1])
local keep = tonumber(ARGV[2])
blob = ARGV[3]
local function list(width)
  local out = {}
  for i = 1, tonumber(nxt()) * width do
    out[i] = nxt()
  end
  return out
end
-- cmd(k, <pairs>) for the triples of `items` (i, i+1, i+2, ...): the pair is
-- items[i + first - 1], items[i + second - 1]; 200 pairs per call
local function variadic(cmd, k, items, first, second)
  for start = 1, #items, 600 do
    local args = {}
    for i = start, math.min(start + 599, #items), 3 do
      args[#args + 1] = items[i + first - 1]
      args[#args + 1] = items[i + second - 1]
    end
    redis.call(cmd, k, unpack(args))
  end
end
local decisions = {}
while pos <= #blob do
  local d = {a = nxt(), v = tonumber(nxt()), epoch = nxt(), state = nxt()}
  d.put, d.drop, d.copies, d.outbox, d.withdrawn = list(2), list(1), list(3), list(3), list(1)
  d.ops = {}
  for i = 1, tonumber(nxt()) do
    local op = list(1)
    if not allowed[op[1]] then
      return redis.error_reply('copier commit: op not allowed: ' .. tostring(op[1]))
    end
    d.ops[i] = op
  end
  decisions[#decisions + 1] = d
end
local out = {}
for _, d in ipairs(decisions) do
  local a = d.a
  local rkey = key(t[1], a)
  local cur = redis.call('HMGET', rkey, 'v', 'e')
  local v = tonumber(cur[1] or '0')
  if v ~= d.v then
    out[#out + 1] = 'conflict'
    out[#out + 1] = v
    out[#out + 1] = cur[2]
  else
    local epoch = cur[2]
    if v == 0 or not epoch then  -- a new record (or one without an epoch: not ours)
      redis.call('DEL', rkey)
      epoch = d.epoch
    end
    redis.call('HSET', rkey, 'v', v + 1, 'e', epoch, 's', d.state, unpack(d.put))
    if #d.drop > 0 then
      redis.call('HDEL', rkey, unpack(d.drop))
    end
    local index = key(t[3], a)
    if #d.copies > 0 then  -- one HSET and one ZADD per 200 copies (not one each)
      variadic('HSET', key(t[2], a), d.copies, 1, 3)
      variadic('ZADD', index, d.copies, 2, 1)
    end
    if #d.outbox > 0 then
      variadic('HSET', key(t[6], a), d.outbox, 1, 3)
      local due = d.outbox[2]  -- the index holds the earliest due time (as ZADD LT each would)
      for i = 5, #d.outbox, 3 do
        if tonumber(d.outbox[i]) < tonumber(due) then
          due = d.outbox[i]
        end
      end
      redis.call('ZADD', t[7], 'LT', due, a)
    end
    if #d.withdrawn > 0 then  -- not yet claimed by a flush: never handed to the log
      local outbox = key(t[6], a)
      for _, id in ipairs(d.withdrawn) do
        local value = redis.call('HGET', outbox, id)
        if value and not string.match(value, '^%d+|%d+%.%d+c|') then
          redis.call('HDEL', outbox, id)
        end
      end
      if redis.call('HLEN', outbox) == 0 then
        redis.call('ZREM', t[7], a)
      end
    end
    for _, op in ipairs(d.ops) do
      redis.call(unpack(op))
    end
    local n = redis.call('ZCARD', index)
    if n > keep then
      local copies, queued, delivered = key(t[2], a), key(t[4], a), key(t[5], a)
      local old = redis.call('ZRANGE', index, 0, n - keep - 1)
      for _, id in ipairs(old) do
        redis.call('HDEL', copies, id)
        for _, suffix in ipairs({'', '.r1', '.r2', '.r3'}) do
          redis.call('HDEL', queued, id .. suffix)
          redis.call('HDEL', delivered, id .. suffix)
        end
      end
      redis.call('ZREMRANGEBYRANK', index, 0, n - keep - 1)
    end
    out[#out + 1] = 'ok'
    out[#out + 1] = v + 1
    out[#out + 1] = epoch
  end
end
return out
"""
)

RECORD_DELIVERED = (
    KEY_FROM_TEMPLATE
    + """
-- ARGV[1] delivered-times key template (byte 1 = account id), [2] now ms, [3] ttl s,
-- [4] netstrings, per account: account id, n, envelope ids...
local tpl, now, ttl = ARGV[1], ARGV[2], ARGV[3]
blob = ARGV[4]
while pos <= #blob do
  local a, n = nxt(), tonumber(nxt())
  local hash = key(tpl, a)
  for _ = 1, n do
    redis.call('HSETNX', hash, nxt(), now)
  end
  redis.call('EXPIRE', hash, ttl)
end
return 1
"""
)


def load_templates(keys: CopierKeys, gateway: RedisKeys) -> bytes:
    """ARGV[1] of `LOAD_MANY`: follower record, ea-state and copies key templates."""
    a = "\x01"
    return "\n".join((keys.follower_state(a), gateway.ea_state(a), keys.copies(a))).encode()


def commit_templates(keys: CopierKeys, partition: int = 0) -> bytes:
    """ARGV[1] of `COMMIT_MANY`: record, copies, index, queued, delivered, outbox templates."""
    a = "\x01"
    names = (
        keys.follower_state(a),
        keys.copies(a),
        keys.copies_index(a),
        keys.queued_times(a),
        keys.delivered_times(a),
        keys.outbox(a),
        keys.outbox_index(partition),
    )
    return "\n".join(names).encode()


#: KEYS: lock, marks hash, stream; ARGV: token, lock ttl (ms), account, group.
#: Returns {0} when another worker holds the lock, else {1, mark, oldest pending id}.
ENTER = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0}
end
local mark = redis.call('HGET', KEYS[2], ARGV[3])
local pending = redis.call('XPENDING', KEYS[3], ARGV[4])
return {1, mark, pending[2]}
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

#: KEYS: fan-out stream, last-ids hash; ARGV[1] approximate MAXLEN, [2] netstrings, per
#: shard entry: partition (``<master>#<shard>``), master, body. Appends every entry and
#: records its id as its partition's last one, atomically (a worker deciding whether a
#: master's shards are all done relies on the pair). Returns the ids.
FAN_OUT_SPLIT = (
    KEY_FROM_TEMPLATE
    + """
blob = ARGV[2]
local ids = {}
while pos <= #blob do
  local partition, master, body = nxt(), nxt(), nxt()
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
    'account_id', partition, 'master', master, 'body', body)
  redis.call('HSET', KEYS[2], partition, id)
  ids[#ids + 1] = id
end
return ids
"""
)
