-- The demo agent: a scripted fake agent shipped inside the doeff-agents
-- binary (`doeff-agents __demo-agent`). It needs no agent CLI, so it drives
-- the README demo and the end-to-end tests. DOEFF_DEMO_* variables in
-- cfg.env pick failure modes (see `doeff-agents __demo-agent --help`).
return agents.adapter {
  name = "demo",
  injection = "arg",
  ready_pattern = "^>( |$)",
  status_bar_lines = 1,
  exit_zero_is_done = true,
  -- It prints "Task completed successfully" itself before exiting 0.
  prints_completion = true,
  screen = { composer = "^>( |$)" },
  launch = function(cfg)
    if cfg.profile then
      error("the demo agent has no profiles", 0)
    end
    local argv = { agents.self_exe(), "__demo-agent" }
    -- "--flag=value": a value starting with "-" is still a value.
    if cfg.model then
      argv[#argv + 1] = "--model=" .. cfg.model
    end
    if cfg.prompt then
      argv[#argv + 1] = "--prompt=" .. cfg.prompt
    end
    return argv
  end,
  patterns = {
    { status = "blocked", reason = "permission_prompt", match = "Do you want to proceed?", last = 6,
      unless = { "^\\s*(Approved|Declined)\\." } },
    -- The empty composer.
    { status = "blocked", reason = "idle_prompt", when = "unchanged", regex = "^>$", region = "composer" },
  },
}
