-- Queue many durable server -> EA messages, of one or many accounts, in one call:
-- each exactly as enqueue.lua would (dedup by envelope id, the size cap, numbered at
-- once for an active session, else held). `deliver` is announced once per account,
-- with the highest seq numbered for it (a connection that already has it skips the read).
-- KEYS[1] an account hash of the call's partition, or nothing (single Redis)
-- ARGV[2] max entries per account, [3] netstrings ('<length>:<bytes>'), per item:
-- account id, envelope id, body
-- -> flat {status, seq or -1, ...}: status 'ok' | 'dup' | 'full', in argument order
--
-- Consecutive items of one account (a *run*: what one follower's decisions queue)
-- cost one call per structure, not one per item: HMGET of the run's ids, the
-- account's size and active session once, then one HSET, INCRBY + ZADD (or RPUSH)
-- for the items queued. That numbers them exactly as item-by-item INCRs would.
local limit = tonumber(ARGV[2])
blob = ARGV[3]  -- nxt(): _netstrings.lua
local accounts, envelope_ids, bodies = {}, {}, {}
while pos <= #blob do
  local i = #accounts + 1
  accounts[i] = nxt()
  envelope_ids[i] = nxt()
  bodies[i] = nxt()
end
local out = {}
local announce, order = {}, {}  -- account -> highest seq numbered; accounts in order

-- Items first .. last, all of account a.
local function run(a, first, last)
  local ids, logk, heldk = k(T.ids, a), k(T.log, a), k(T.held, a)
  local existing = redis.call('HMGET', ids, unpack(envelope_ids, first, last))
  local room = limit - redis.call('ZCARD', logk) - redis.call('LLEN', heldk)
  local taken = {} -- envelope id -> out index of the seq of the run's item that queued it
  local members, pairs_, slots, copies = {}, {}, {}, {}
  for i = first, last do
    local id, slot = envelope_ids[i], 2 * i
    local member = existing[i - first + 1]
    out[slot - 1] = 'ok'
    out[slot] = -1
    if member then
      local seq = redis.call('ZSCORE', logk, member)
      out[slot - 1] = 'dup'
      out[slot] = seq and tonumber(seq) or -1
    elseif taken[id] then
      out[slot - 1] = 'dup'
      copies[#copies + 1] = {slot, taken[id]}
    elseif room <= 0 then
      out[slot - 1] = 'full'
    else
      room = room - 1
      member = '*|' .. bodies[i]
      members[#members + 1] = member
      pairs_[#pairs_ + 1] = id
      pairs_[#pairs_ + 1] = member
      slots[#slots + 1] = slot
      taken[id] = slot
    end
  end
  if #members == 0 then return end
  redis.call('HSET', ids, unpack(pairs_))
  if redis.call('HGET', k(T.account, a), 'active_sid') then
    local seq = redis.call('INCRBY', k(T.seq, a), #members) - #members
    local scored = {}
    for n, member in ipairs(members) do
      seq = seq + 1
      scored[2 * n - 1] = int(seq)
      scored[2 * n] = member
      out[slots[n]] = seq
    end
    redis.call('ZADD', logk, unpack(scored))
    if not announce[a] then
      order[#order + 1] = a
    end
    announce[a] = seq
  else
    redis.call('RPUSH', heldk, unpack(members))
  end
  for _, copy in ipairs(copies) do
    out[copy[1]] = out[copy[2]]
  end
end

local first = 1
for i = 1, #accounts do
  if accounts[i + 1] ~= accounts[i] then
    run(accounts[i], first, i)
    first = i + 1
  end
end
for _, a in ipairs(order) do
  publish(a, {kind = 'deliver', seq = announce[a]})
end
return out
