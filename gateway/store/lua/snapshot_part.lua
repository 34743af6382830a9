-- Keep one part of a SyncSnapshot sent in parts (fenced); say when the set is complete.
-- KEYS[1] account hash, KEYS[2] the account's snapshot-parts hash
-- ARGV[2] account id, [3] session id, [4] snapshot id, [5] part (1..parts), [6] parts,
-- [7] part envelope JSON, [8] now ms, [9] ttl ms (the hash lives that long after
-- its last write)
-- Parts hash: id, parts, started_ms, have (distinct parts kept), p:<n> (part n's
-- JSON), done (the last snapshot id handed to the copier: its parts are duplicates)
-- -> {'fenced', reason} | {'duplicate'} (of a snapshot already handed on)
--  | {'partial', have, superseded snapshot id or ''}
--  | {'complete', superseded id or '', part 1 JSON, ..., part n JSON}
local a, sid, snap, part, parts = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if not is_active(a, sid) then
  return fenced(a, sid)
end
local key = KEYS[2]
local cur = redis.call('HMGET', key, 'id', 'parts', 'done')
if cur[3] == snap then
  return {'duplicate'}
end
local superseded = ''
if cur[1] ~= snap or cur[2] ~= parts then
  -- a new snapshot: whatever was being assembled will never complete
  if cur[1] then superseded = cur[1] end
  redis.call('DEL', key)
  redis.call('HSET', key, 'id', snap, 'parts', parts, 'started_ms', ARGV[8], 'have', 0)
  if cur[3] then redis.call('HSET', key, 'done', cur[3]) end
end
if redis.call('HSETNX', key, 'p:' .. part, ARGV[7]) == 1 then
  redis.call('HINCRBY', key, 'have', 1)
end
redis.call('PEXPIRE', key, ARGV[9])
local have = tonumber(redis.call('HGET', key, 'have'))
if have < tonumber(parts) then
  return {'partial', have, superseded}
end
local fields = {}
for n = 1, tonumber(parts) do fields[n] = 'p:' .. n end
local out = {'complete', superseded}
for _, body in ipairs(redis.call('HMGET', key, unpack(fields))) do
  out[#out + 1] = body
end
return out
