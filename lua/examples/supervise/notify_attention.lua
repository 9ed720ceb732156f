-- Supervisor script: tells you when an agent needs you — `blocked` (a
-- dialog, or its turn ended), `blocked_api` (a rate or usage limit) or
-- `failed` — once per transition, not on every pass.
--   doeff-agents supervise lua/examples/supervise/notify_attention.lua
-- (or copy it into ~/.config/doeff-agents/scripts/).
local URGENCY = { blocked = "normal", blocked_api = "normal", failed = "critical" }

-- Session name -> the status already told; kept across reloads of this file.
agents.state.told = agents.state.told or {}

agents.on("status_changed", function(s, old, new, obs)
  local told = agents.state.told
  if not URGENCY[new] then
    told[s.name] = nil -- it moved on: the next stop is news again
    return
  end
  if told[s.name] == new then return end
  told[s.name] = new
  local how = agents.notify {
    title = s.name .. " is " .. new,
    body = obs.reason .. (obs.evidence.line ~= "" and (": " .. obs.evidence.line) or ""),
    urgency = URGENCY[new],
  }
  print(string.format("told: %s %s (%s) via %s", s.name, new, obs.reason, how))
end)
