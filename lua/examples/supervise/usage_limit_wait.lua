-- Opt-in usage-limit waiter (supervisor script): when an agent stops at a
-- usage limit and its screen says when the limit resets ("resets 3pm",
-- "reset at 3:05 PM", "try again at 15:05", "try again in 2 hours 5
-- minutes"), waits until then plus a margin and sends "continue". When the
-- screen shows no time it does nothing: it never guesses. Clock times are
-- read as this machine's local time (a "(Europe/London)" suffix is ignored).
--   doeff-agents supervise lua/examples/supervise/usage_limit_wait.lua
-- Opt in by running it (or copying it into ~/.config/doeff-agents/scripts/).
-- DOEFF_LIMIT_MARGIN: seconds to add after the reset (default 60).
local MARGIN = tonumber(os.getenv("DOEFF_LIMIT_MARGIN") or "60") or 60

local UNITS = {
  d = 86400, day = 86400, days = 86400,
  h = 3600, hr = 3600, hrs = 3600, hour = 3600, hours = 3600,
  m = 60, min = 60, mins = 60, minute = 60, minutes = 60,
  s = 1, sec = 1, secs = 1, second = 1, seconds = 1,
}

--- Seconds from now until the reset a line announces, or nil.
local function reset_in(line, now)
  local lower = line:lower()
  local rel = lower:match("reset%a*%s+in%s+(.+)") or lower:match("try again in%s+(.+)")
  if rel then
    local total, any = 0, false ---@type number, boolean
    for n, unit in rel:gmatch("(%d+)%s*(%a+)") do
      local k = UNITS[unit]
      if not k then break end
      total, any = total + (tonumber(n) or 0) * k, true
    end
    if any then return total end
  end
  local clock = lower:match("resets?%s+a?t?%s*(%d[%d:]*%s*[ap]?%.?m?%.?)")
    or lower:match("try again at%s+(%d[%d:]*%s*[ap]?%.?m?%.?)")
  if not clock then return nil end
  local h, m = clock:match("^(%d+):(%d%d)")
  h = tonumber(h or clock:match("^(%d+)"))
  m = tonumber(m or 0) or 0
  if not h or h > 23 or m > 59 then return nil end
  if clock:find("p") and h < 12 then h = h + 12 end
  if clock:find("a") and h == 12 then h = 0 end
  local t = os.date("*t", now)
  t.hour, t.min, t.sec = math.floor(h), math.floor(m), 0
  local at = os.time(t)
  if at <= now then at = at + 86400 end
  return at - now
end

--- The reset the screen of `s` announces: seconds from now, or nil.
local function announced_reset(s)
  local text = s:capture { lines = 60 }
  if not text then return nil end
  local now = os.time()
  for line in text:gmatch("[^\n]+") do
    local lower = line:lower()
    if lower:find("limit") or lower:find("try again") then
      local secs = reset_in(line, now)
      if secs then return secs, line end
    end
  end
  return nil
end

-- Session name -> unix time to send "continue"; kept across reloads.
agents.state.due = agents.state.due or {}

agents.on("status_changed", function(s, old, new, obs)
  if new ~= "blocked_api" then
    agents.state.due[s.name] = nil
    return
  end
  local secs, line = announced_reset(s)
  if not secs then
    print(s.name .. ": limit without a reset time; leaving it alone")
    return
  end
  agents.state.due[s.name] = os.time() + secs + MARGIN
  print(string.format("%s: limit resets in %ds (%s); continuing after that", s.name, secs, line))
end)

agents.every(1, function()
  local now = os.time()
  for name, at in pairs(agents.state.due) do
    if now >= at then
      agents.state.due[name] = nil
      local s = agents.session(name)
      if s and s:status() == "blocked_api" then
        s:send("continue")
        print(name .. ": sent continue")
      end
    end
  end
end)

return { reset_in = reset_in }
