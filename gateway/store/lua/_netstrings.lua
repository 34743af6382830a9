-- netstrings ('<length>:<bytes>' ...): set `blob` (`pos` starts at 1), then each
-- nxt() returns the next value; `pos <= #blob` while values are left.
local blob, pos = '', 1
local function nxt()
  local colon = string.find(blob, ':', pos, true)
  local n = tonumber(string.sub(blob, pos, colon - 1))
  pos = colon + n + 1
  return string.sub(blob, colon + 1, colon + n)
end
