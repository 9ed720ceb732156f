-- Fan-out: runs three demo agents in parallel, approves their prompts as
-- they come, and reports when all are done. One event loop watches them
-- all; nothing polls a session by hand.
--   doeff-agents script lua/examples/fan_out.lua [COUNT]
local count = tonumber(arg[1] or "3")
local sessions = {}
for i = 1, count do
  local s, err = agents.launch("fan-" .. i, {
    agent = "demo",
    prompt = "task number " .. i,
    env = { DOEFF_DEMO_WORK_MS = tostring(300 + 200 * i) },
  })
  if not s then error(err, 0) end
  sessions[#sessions + 1] = s
end

agents.on("status_changed", function(s, old, new, obs)
  print(string.format("%s: %s -> %s (%s)", s.name, old, new, obs.reason))
  if new == "blocked" and obs.reason == "permission_prompt" then
    s:send_keys{ "1" }
  end
end)

local final, timed_out = agents.run_loop { sessions = sessions, interval = 0.2, timeout = 60 }
local all_done = not timed_out
for _, s in ipairs(sessions) do
  print(s.name .. " final: " .. tostring(final[s.name]))
  if final[s.name] ~= "done" then all_done = false end
end
print(all_done and "all done" or "not all done")
if not all_done then os.exit(1) end
