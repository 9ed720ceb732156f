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
  -- Hook events (see `launch`), as 0.61 sends them: BeforeAgent when a
  -- prompt is submitted, BeforeTool/AfterTool around each tool,
  -- Notification(ToolPermission) when a tool waits for approval,
  -- AfterAgent at the end of a turn — also of a failed one, whose
  -- prompt_response is "[no response text]": "screen", the error on screen
  -- decides (and not the turn before's report, when a watcher missed this
  -- turn's BeforeAgent). Gemini's hooks carry no error kind.
  signals = {
    hooks = {
      SessionStart = false,
      BeforeAgent = "running",
      BeforeTool = "running",
      AfterTool = "running",
      Notification = { detail = "notification_type",
        ToolPermission = "blocked/permission_prompt", ["*"] = false },
      AfterAgent = { detail = "prompt_response",
        _no_response_text_ = "screen", ["*"] = "blocked/idle_prompt" },
      SessionEnd = { detail = "reason", clear = false, ["*"] = "exited/session_end" },
    },
  },
  dialogs = {
    { id = "trust", reason = "trust_dialog", answer = { "Enter" }, safe = true,
      match = "Do you trust the files in this folder?" },
  },
  -- The screen model: the composer " > " (or "*" in YOLO mode, "!" in
  -- shell mode) sits under a rule or in a box; the echo of a sent prompt
  -- looks the same but has no rule above it. Gemini's spinner line
  -- "⠹ Thinking... (esc to cancel, 4s)" is its activity marker wherever it
  -- sits; "esc to cancel" inside a dialog box is not, nor "⠋ Executing
  -- Hook: doeff-agents (esc to cancel, 0s)", which stays up 3 s after each
  -- hook it runs (also at start-up and after the turn's end).
  screen = {
    composer = "^\\s?(│\\s*)?[>*!]\\s",
    ruled = true,
    turn_start = "^\\s?[>*!] +\\S",
    activity = { "^\\s*[^\\s│┃╭╰]\\s+([^E\\s]|E[^x]|Ex[^e]|Exe[^c]).*\\(esc to cancel" },
    -- The summary box of /quit.
    goodbye = { "Agent powering down\\. Goodbye!" },
  },
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
    if type(cfg.hooks) == "table" then
      -- Per-run hooks: Gemini reads them from settings files only. Its
      -- system-defaults file can be named per run
      -- (GEMINI_CLI_SYSTEM_DEFAULTS_PATH; its hook arrays are added to the
      -- user's own), but 0.61 skips that file, with a warning on screen,
      -- unless it and every directory above it are owned by root and
      -- writable by no group or other: so only when running as root, and
      -- not over a system-defaults file of the machine's own (it would
      -- hide it).
      local defaults = "/etc/gemini-cli/system-defaults.json"
      if cfg.env.GEMINI_CLI_SYSTEM_SETTINGS_PATH then
        defaults = (cfg.env.GEMINI_CLI_SYSTEM_SETTINGS_PATH:gsub("[^/]*$", "")) .. "system-defaults.json"
      end
      if agents.is_root() and not cfg.env.GEMINI_CLI_SYSTEM_DEFAULTS_PATH
        and not agents.file_exists(defaults) then
        local hooks = {}
        for event, command in pairs(cfg.hooks.command) do
          hooks[event] = { { hooks = { { type = "command", name = "doeff-agents", command = command,
            timeout = 5000 } } } }
        end
        cfg.hooks.settings_file(agents.json({ hooks = hooks }), "GEMINI_CLI_SYSTEM_DEFAULTS_PATH")
      end
    end
    if cfg.resume then
      argv[#argv + 1] = "--resume"
      argv[#argv + 1] = cfg.resume_id or "latest"
    elseif cfg.conversation_id then
      argv[#argv + 1] = "--session-id"
      argv[#argv + 1] = cfg.conversation_id
    end
    return argv
  end,
  patterns = {
    -- Starting: the composer and footer are drawn first, the banner and
    -- tips after (a trust dialog may still replace the composer). Above a
    -- composer that has been in use there is always the banner, a prompt
    -- echo, an answer or a notice.
    { status = "booting", reason = "starting", regex = "Type your message", region = "composer",
      unless = { "Gemini CLI v[0-9]", "Tips for getting started", "^\\s?[>*!] +\\S", "^\\s*[✦ℹ✕╭╰│]" },
      unless_region = "above_composer" },
    -- The composer up, holding text or its placeholder, nothing busy: idle.
    { status = "blocked", reason = "idle_prompt", when = "unchanged", regex = "\\S", region = "composer" },
  },
}
