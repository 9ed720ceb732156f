-- Gemini CLI (@google/gemini-cli). The prompt is pasted once the composer shows.
-- Flags checked against `gemini --help` of 0.61: -m, -y/--yolo,
-- -r/--resume (latest | index). There is no --profile.
return agents.adapter {
  name = "gemini",
  binary = "gemini",
  injection = "tmux",
  ready_pattern = "Type your message|^\\s*[>*](\\s|$)",
  status_bar_lines = 3,
  -- Gemini shows "esc to cancel" while it works (Claude uses it for dialogs).
  busy = { "(?i)esc to cancel" },
  launch = function(cfg)
    if cfg.profile then
      error("Gemini CLI has no profiles (there is no --profile option)", 0)
    end
    local argv = { "gemini" }
    if cfg.model then
      argv[#argv + 1] = "--model"
      argv[#argv + 1] = cfg.model
    end
    if cfg.skip_permissions then
      argv[#argv + 1] = "--yolo"
    end
    if cfg.resume then
      argv[#argv + 1] = "--resume"
      argv[#argv + 1] = cfg.session_name or "latest"
    end
    return argv
  end,
  patterns = {
    { status = "running", reason = "busy", regex = "(?i)esc to cancel", last = 6 },
  },
}
