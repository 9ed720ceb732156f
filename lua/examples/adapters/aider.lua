-- An adapter for aider (https://aider.chat), a CLI that is not built in.
-- Put this file in ~/.config/doeff-agents/adapters/ (or pass --adapters DIR)
-- and run:  doeff-agents run -a aider -p "add a test for parse()"
return agents.adapter {
  name = "aider",
  binary = "aider",
  -- aider reads its first message at its "> " prompt.
  injection = "tmux",
  ready_pattern = "^>( |$)",
  status_bar_lines = 0,
  launch = function(cfg)
    local argv = { "aider", "--no-auto-commits", "--no-pretty" }
    if cfg.model then
      argv[#argv + 1] = "--model"
      argv[#argv + 1] = cfg.model
    end
    if cfg.skip_permissions then
      argv[#argv + 1] = "--yes-always"
    end
    if cfg.profile then
      error("aider has no profiles; use --model or an .aider.conf.yml", 0)
    end
    return argv
  end,
  patterns = {
    { status = "blocked", reason = "permission_prompt", regex = "\\(Y\\)es/\\(N\\)o", last = 3 },
    { status = "blocked_api", reason = "rate_limit", match = "RateLimitError", last = 10 },
  },
}
