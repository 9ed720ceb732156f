-- Codex CLI (@openai/codex). The prompt goes in argv.
-- Flags checked against `codex --help` of 0.169: -m, -p/--profile,
-- --dangerously-bypass-approvals-and-sandbox, `resume [ID|--last]`,
-- --no-daemon (no shared background server that outlives the session).
-- There is no --full-auto any more.
return agents.adapter {
  name = "codex",
  binary = "codex",
  injection = "arg",
  status_bar_lines = 3,
  launch = function(cfg)
    local argv = { "codex" }
    if cfg.resume then
      argv[#argv + 1] = "resume"
      if cfg.session_name then
        argv[#argv + 1] = cfg.session_name
      else
        argv[#argv + 1] = "--last"
      end
    end
    argv[#argv + 1] = "--no-daemon"
    if cfg.profile then
      argv[#argv + 1] = "--profile"
      argv[#argv + 1] = cfg.profile
    end
    if cfg.model then
      argv[#argv + 1] = "--model"
      argv[#argv + 1] = cfg.model
    end
    if cfg.skip_permissions then
      argv[#argv + 1] = "--dangerously-bypass-approvals-and-sandbox"
    end
    if cfg.prompt then
      if cfg.prompt:sub(1, 1) == "-" then argv[#argv + 1] = "--" end
      argv[#argv + 1] = cfg.prompt
    end
    return argv
  end,
  patterns = {
    { status = "blocked", reason = "update_dialog", match = "Update available", last = 12 },
  },
}
