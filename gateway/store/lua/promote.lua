-- Promote a pending session: apply its remembered ack, activate (renumbering the
-- backlog after the opening messages), then release its held OrderIntents.
-- KEYS[1] account hash
-- ARGV[2] account id, [3] session id, [4] now ms, [5] closed ttl s,
-- [6] intent stream MAXLEN (approximate), [7..] opening messages (JSON without seq)
-- -> {'gone'} | {'ok', session hash (flat), {preempted ids}, released intents}
local a, sid, now = ARGV[2], ARGV[3], ARGV[4]
if redis.call('ZSCORE', k(T.sessions, a), sid) == false
    or redis.call('HGET', k(T.session, a, sid), 'state') ~= 'pending' then
  return {'gone'}
end
local opening = {}
for i = 7, #ARGV do
  opening[#opening + 1] = ARGV[i]
end
-- first drop what the EA reported as processed while pending (remember_ack)
local reported = redis.call('HGET', k(T.session, a, sid), 'ack_seq')
if reported then
  drop_acked(a, reported)
end
local _, preempted = activate(a, sid, now, ARGV[5], opening, true)
local intents = take_intents(a, sid)
-- whatever else is held belonged to sessions that are closed now
redis.call('DEL', k(T.held_intents, a))
for _, body in ipairs(intents) do
  xadd(T.intents, ARGV[6], a, sid, body)
end
publish(a, {kind = 'promoted', session_id = sid})
publish(a, {kind = 'deliver'})
return {'ok', redis.call('HGETALL', k(T.session, a, sid)), preempted, #intents}
