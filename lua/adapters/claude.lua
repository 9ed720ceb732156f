-- Claude Code (@anthropic-ai/claude-code). The prompt goes in argv.
-- Flags checked against `claude --help` of 2.1.x: --model, --resume ID,
-- --continue, --dangerously-skip-permissions. There is no --profile.
return agents.adapter {
  name = "claude",
  binary = "claude",
  injection = "arg",
  status_bar_lines = 5,
  launch = function(cfg)
    if cfg.profile then
      error("Claude Code has no profiles (there is no --profile option)", 0)
    end
    local argv = { "claude" }
    if cfg.skip_permissions then
      if agents.is_root() and cfg.env.IS_SANDBOX ~= "1" then
        error("Claude Code refuses --dangerously-skip-permissions when run as root", 0)
      end
      argv[#argv + 1] = "--dangerously-skip-permissions"
    end
    if cfg.model then
      argv[#argv + 1] = "--model"
      argv[#argv + 1] = cfg.model
    end
    if cfg.resume then
      if cfg.session_name then
        argv[#argv + 1] = "--resume"
        argv[#argv + 1] = cfg.session_name
      else
        argv[#argv + 1] = "--continue"
      end
    end
    if cfg.prompt then
      if cfg.prompt:sub(1, 1) == "-" then argv[#argv + 1] = "--" end
      argv[#argv + 1] = cfg.prompt
    end
    return argv
  end,
  -- "❯" alone is Claude's composer, not a shell prompt.
  disable = { "default.bare_prompt" },
  patterns = {
    -- An empty composer between its rules, with no activity marker: idle.
    { status = "blocked", reason = "idle_prompt", when = "unchanged", regex = "(?m)^❯\\s*\\n─{20,}", joined = true, last = 6 },
    -- "✻ Worked for 12s": the turn is over (unless a shell still runs).
    { status = "blocked", reason = "idle_prompt", when = "unchanged", regex = "^✻ \\S+ed for \\d", last = 8,
      unless = { "still running" } },
  },
}
