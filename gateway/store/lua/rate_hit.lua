-- One hit on a sliding-window rate limit (see rate_hit in _lib.lua).
-- KEYS[1] the bucket's hit log; ARGV[2] now ms, [3] window ms, [4] limit
-- -> 0 allowed | ms until a hit would be allowed
return rate_hit(KEYS[1], ARGV[2], ARGV[3], ARGV[4])
