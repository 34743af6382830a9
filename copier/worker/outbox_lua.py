"""The outbox flush's Lua scripts (see `copier.worker.outbox_store.OutboxStore.flush`).

`OUTBOX_CLAIM`: before a flush hands envelopes to the delivery log, claim them,
and every older entry of the same accounts that is waiting for its writer or is
due, in decision order (an entry is claimed once: a concurrent flusher skips it).

`OUTBOX_DONE`: after the delivery log took envelopes (of any number of
accounts, in one call), drop them from the outboxes, remember when they were
first queued, and re-score the outbox index.
"""

from __future__ import annotations

from copier.keys import CopierKeys
from copier.worker.lua import KEY_FROM_TEMPLATE

__all__ = ["OUTBOX_CLAIM", "OUTBOX_DONE", "claim_templates", "outbox_templates"]

OUTBOX_CLAIM = (
    KEY_FROM_TEMPLATE
    + """
-- Claim outbox entries of one or many accounts before enqueueing them: the ones
-- asked for and every older one (decision order at most the newest asked for) that
-- is claimable: waiting for its writer (no kind mark: its writer may have died),
-- or due (a retry, or a claim whose flusher died). A claimed entry gets the mark
-- 'c' and the due time now + lease; no other flush claims it before then.
-- ARGV[1] key templates (outbox; byte 1 = account id), [2] now ms, [3] lease ms,
-- [4] netstrings, per account: account id, n, n x envelope id.
-- -> per account whose claims are not exactly the ids asked for, in the order asked
--    (the usual case, left out of the reply): account id, n, n x (envelope id,
--    envelope, or '' for one asked for), in decision order
local t = templates(ARGV[1])
local now, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
blob = ARGV[4]
local out = {}
local function before(x, y)
  return x.v < y.v or (x.v == y.v and x.i < y.i)
end
while pos <= #blob do
  local a, asked, order = nxt(), {}, {}
  for n = 1, tonumber(nxt()) do
    order[n] = nxt()
    asked[order[n]] = true
  end
  local outbox = key(t[1], a)
  local flat = redis.call('HGETALL', outbox)
  local free, upto = {}, nil
  for n = 1, #flat, 2 do
    local due, rest = string.match(flat[n + 1], '^(%d+)|(.*)$')
    local v, i, kind, body = string.match(rest, '^(%d+)%.(%d+)([rc]?)|(.*)$')
    if not v then  -- written before the order key: first
      v, i, kind, body = '0', '0', '', rest
    end
    if kind == '' or tonumber(due) <= now then
      local e = {id = flat[n], v = tonumber(v), i = tonumber(i), body = body}
      free[#free + 1] = e
      if asked[e.id] and (upto == nil or before(upto, e)) then
        upto = e
      end
    end
  end
  if upto then
    local claimed = {}
    for _, e in ipairs(free) do
      if not before(upto, e) then
        claimed[#claimed + 1] = e
      end
    end
    table.sort(claimed, before)
    local due = string.format('%d', now + lease)
    local same = #claimed == #order
    for n, e in ipairs(claimed) do
      redis.call('HSET', outbox, e.id, due .. '|' .. e.v .. '.' .. e.i .. 'c|' .. e.body)
      same = same and e.id == order[n]
    end
    if not same then
      out[#out + 1] = a
      out[#out + 1] = #claimed
      for _, e in ipairs(claimed) do
        out[#out + 1] = e.id
        out[#out + 1] = asked[e.id] and '' or e.body
      end
    end
  else  -- nothing of it claimable
    out[#out + 1] = a
    out[#out + 1] = 0
  end
end
return out
"""
)

OUTBOX_DONE = (
    KEY_FROM_TEMPLATE
    + """
-- After the delivery log took (or refused) envelopes of one or many accounts: drop
-- them from each account's outbox, remember when the queued ones were first queued,
-- and re-score (or remove) the account in the outbox index.
-- ARGV[1] key templates (outbox, outbox index, queued times; byte 1 = account id),
-- [2] now ms, [3] netstrings, per account: account id, n queued, n refused,
-- queued ids..., refused ids...
local t = templates(ARGV[1])
local now = ARGV[2]
blob = ARGV[3]
while pos <= #blob do
  local a, nq, nr = nxt(), tonumber(nxt()), tonumber(nxt())
  local outbox, queued = key(t[1], a), key(t[3], a)
  for _ = 1, nq do
    local id = nxt()
    redis.call('HDEL', outbox, id)
    redis.call('HSETNX', queued, id, now)
  end
  for _ = 1, nr do
    redis.call('HDEL', outbox, nxt())
  end
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
)


def claim_templates(keys: CopierKeys) -> bytes:
    """ARGV[1] of `OUTBOX_CLAIM`: the outbox key template."""
    return keys.outbox("\x01").encode()


def outbox_templates(keys: CopierKeys, partition: int = 0) -> bytes:
    """ARGV[1] of `OUTBOX_DONE`: outbox, outbox index and queued-times key templates."""
    a = "\x01"
    return "\n".join((keys.outbox(a), keys.outbox_index(partition), keys.queued_times(a))).encode()
