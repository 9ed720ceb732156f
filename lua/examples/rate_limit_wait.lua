-- Rate-limit waiter: when a session hits an API limit (blocked_api), waits
-- with a growing pause and nudges the agent with "continue", a bounded
-- number of times; reports how it ended.
--   doeff-agents script lua/examples/rate_limit_wait.lua NAME [FIRST_WAIT] [RETRIES]
local name = assert(arg[1], "usage: rate_limit_wait.lua NAME [FIRST_WAIT] [RETRIES]")
local wait = tonumber(arg[2] or "60") or error("FIRST_WAIT must be a number of seconds", 0)
local retries = tonumber(arg[3] or "5") or error("RETRIES must be a number", 0)
local s, err = agents.session(name)
if not s then error(err, 0) end

local tries = 0
while true do
  local obs = assert(s:observe())
  if obs.is_terminal then
    print(name .. " ended " .. obs.status)
    break
  end
  if obs.status == "blocked_api" then
    if tries >= retries then
      print(string.format("%s: still rate limited; gave up after %d retries", name, tries))
      os.exit(2)
    end
    tries = tries + 1
    print(string.format("%s: rate limited (%s); waiting %gs (retry %d/%d)", name, obs.reason, wait, tries, retries))
    agents.sleep(wait)
    s:send("continue")
    wait = wait * 2
  elseif obs.status ~= "blocked_api" and tries > 0 then
    print(name .. ": limit lifted, status " .. obs.status)
    break
  end
  agents.sleep(0.5)
end
