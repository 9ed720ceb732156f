-- Gemini CLI (@google/gemini-cli). The prompt is pasted once the composer shows.
-- Flags checked against `gemini --help` of 0.61: -m, -y/--yolo,
-- -r/--resume (latest | index | id), --session-id UUID, --skip-trust. There is
-- no --profile. A new conversation gets the id doeff-agents picked
-- (cfg.conversation_id, via --session-id).
return agents.adapter {
  name = "gemini",
  binary = "gemini",
  injection = "tmux",
  ready_pattern = "Type your message|^\\s*[>*](\\s|$)",
  status_bar_lines = 3,
  -- " >   Type your message…" (or "*" in YOLO mode); the echo of a sent
  -- message looks the same but sits above it.
  composer = "^\\s?[>*]\\s+(.*)$",
  conversation_at_launch = true,
  conversation = { "gemini --resume ([0-9a-f-]{36})", "Session ID:\\s+([0-9a-f-]{36})" },
  dialogs = {
    { id = "trust", reason = "trust_dialog", answer = { "Enter" }, safe = true,
      match = "Do you trust the files in this folder?" },
  },
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
    if cfg.accept_dialogs then
      -- Trusting through the dialog restarts the CLI; this trusts the folder
      -- for this session without it.
      argv[#argv + 1] = "--skip-trust"
    end
    if cfg.resume then
      argv[#argv + 1] = "--resume"
      argv[#argv + 1] = cfg.session_name or "latest"
    elseif cfg.conversation_id then
      argv[#argv + 1] = "--session-id"
      argv[#argv + 1] = cfg.conversation_id
    end
    return argv
  end,
  patterns = {
    { status = "running", reason = "busy", regex = "(?i)esc to cancel", last = 6 },
  },
}
