-- Hand the copier a snapshot assembled from its parts (fenced), and forget the parts.
-- KEYS[1] account hash, KEYS[2] the account's snapshot-parts hash
-- ARGV[2] account id, [3] session id, [4] snapshot id, [5] assembled envelope JSON,
-- [6] MAXLEN (approximate), [7] W3C traceparent ('' if none), [8] ttl ms of the
-- `done` marker (later copies of the snapshot's parts are dropped as duplicates)
-- -> {'ok', stream id} | {'fenced', reason} | {'gone'} (no longer the set being
--    assembled: superseded meanwhile, or already handed on)
local a, sid, snap = ARGV[2], ARGV[3], ARGV[4]
if not is_active(a, sid) then
  return fenced(a, sid)
end
local key = KEYS[2]
if redis.call('HGET', key, 'id') ~= snap then
  return {'gone'}
end
local id = xadd(T.ea_inbox, ARGV[6], a, sid, ARGV[5], ARGV[7])
redis.call('DEL', key)
redis.call('HSET', key, 'done', snap)
redis.call('PEXPIRE', key, ARGV[8])
return {'ok', id}
