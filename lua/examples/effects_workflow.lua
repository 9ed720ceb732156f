-- One workflow, two handlers: a program yields effects; agents.run drives it
-- against the scripted mock (no tmux, no waiting) or against real tmux.
--   doeff-agents script lua/examples/effects_workflow.lua mock|tmux
local which = arg[1] or "mock"

-- Launch, watch until the agent asks, answer once, wait for it to finish.
local function approve_once(name, cfg)
  local e = agents.effects
  local handle = assert(agents.perform(e.launch(name, cfg)))
  local answered = false
  while true do
    local o = assert(agents.perform(e.monitor(handle)))
    if o.is_terminal then
      agents.perform(e.stop(handle))
      return o.status
    end
    if o.status == "blocked" and not answered then
      assert(agents.perform(e.send(handle, "1", { enter = false })))
      answered = true
    end
    agents.perform(e.sleep(0.2))
  end
end

local handler
if which == "mock" then
  handler = agents.mock_handler {
    sessions = {
      wf = {
        { "running", "Working..." },
        { "blocked", "Do you want to proceed?" },
        { "running", "Approved. Finishing..." },
        { "done", "Task completed successfully" },
      },
    },
  }
else
  handler = agents.tmux_handler()
end

local started = agents.now()
local final = agents.run(approve_once, handler, "wf", {
  agent = "demo", prompt = "make a file", env = { DOEFF_DEMO_WORK_MS = "400" },
})
print("final: " .. final)
if which == "mock" then
  for _, s in ipairs(handler:sent_messages()) do
    print(string.format("sent: %s %q enter=%s", s.session, s.message, tostring(s.enter)))
  end
  print(string.format("sleeps: %d total %.1fs", #handler:sleeps(), handler:total_sleep_time()))
  print(string.format("wall: %.3fs", agents.now() - started))
end
