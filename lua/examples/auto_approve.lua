-- Auto-approver: watches a session and answers every permission prompt
-- with "1" (the demo agent's and Claude's "Yes").
--   doeff-agents script lua/examples/auto_approve.lua NAME [TIMEOUT]
-- With no NAME it launches a demo agent to approve.
local name = arg[1]
local timeout = tonumber(arg[2] or "60")
local s, err
if name then
  s, err = agents.session(name)
else
  s, err = agents.launch("approve-demo", { agent = "demo", prompt = "make a file",
                                           env = { DOEFF_DEMO_WORK_MS = "500" } })
end
if not s then error(err, 0) end

local approvals = 0
local final = agents.watch(s, {
  interval = 0.2,
  timeout = timeout,
  on_change = function(old, new, obs)
    print(string.format("%s: %s -> %s (%s)", s.name, old, new, obs.reason))
    if new == "blocked" and obs.reason == "permission_prompt" then
      approvals = approvals + 1
      s:send_keys{ "1" }
      print(s.name .. ": approved")
    end
  end,
})
print(string.format("%s ended %s after %d approval(s)", s.name, final, approvals))
if final ~= "done" then
  print("last screen:\n" .. tostring(s:capture { lines = 15 }))
  os.exit(1)
end
