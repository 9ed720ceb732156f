-- Claude Code (@anthropic-ai/claude-code). The prompt goes in argv.
-- Flags checked against `claude --help` of 2.1.x: --model, --resume ID,
-- --continue, --session-id UUID, --dangerously-skip-permissions. There is no
-- --profile. A new conversation gets the id doeff-agents picked
-- (cfg.conversation_id, via --session-id), so it can be resumed later even
-- though Claude does not print its id on exit.
return agents.adapter {
  name = "claude",
  binary = "claude",
  injection = "arg",
  status_bar_lines = 5,
  -- The composer: "❯ " at column 0 (dialog choices are indented: " ❯ 1. Yes").
  ready_pattern = "^❯( |$)",
  composer = "^❯ ?(.*)$",
  conversation_at_launch = true,
  conversation = { "claude --resume ([0-9a-f-]{36})", "Session ID: ([0-9a-f-]{36})" },
  -- What Claude Code says about itself: its session registry
  -- ($CLAUDE_CONFIG_DIR/sessions/<pid>.json: busy, idle, waiting) and the
  -- hook events each run registers (see `launch`).
  signals = {
    registry = "claude",
    hooks = {
      SessionStart = false,
      UserPromptSubmit = "running",
      PreToolUse = "running",
      PostToolUse = "running",
      PermissionRequest = "blocked/permission_prompt",
      Notification = { detail = "notification_type",
        permission_prompt = "blocked/permission_prompt",
        -- A reminder that it waits, sent also right after StopFailure:
        -- no status, so the turn's own end (Stop, StopFailure) stands.
        idle_prompt = false,
        elicitation_dialog = "blocked/elicitation_dialog" },
      Stop = "blocked/idle_prompt",
      StopFailure = { detail = "error",
        rate_limit = "blocked_api/rate_limit",
        overloaded = "blocked_api/overloaded",
        server_error = "blocked_api/server_error",
        billing_error = "blocked_api/billing_error",
        authentication_failed = "failed/auth_failed",
        invalid_request = "failed/invalid_request",
        model_not_found = "failed/model_not_found",
        ["*"] = false },
      SessionEnd = { detail = "reason", clear = false, ["*"] = "exited/session_end" },
    },
  },
  dialogs = {
    { id = "trust", reason = "trust_dialog", answer = { "Enter" }, safe = true,
      match = { "Yes, I trust this folder", "Is this a project you created or one you trust" } },
    -- First run: pick the default (dark) text style.
    { id = "theme", reason = "onboarding_dialog", answer = { "Enter" }, safe = true,
      match = "Choose the text style" },
    -- Only shown with --dangerously-skip-permissions, which the user asked for.
    -- Default choice is "1. No, exit"; "2. Yes, I accept" is one row down.
    { id = "bypass_permissions", reason = "bypass_permissions_dialog", answer = { "Down", "Enter" },
      safe = true, match = "Bypass Permissions mode" },
    -- Using an API key from the environment is the user's call.
    { id = "api_key", reason = "api_key_dialog", safe = false,
      match = { "Detected a custom API key", "Do you want to use this API key" } },
  },
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
      if cfg.resume_id then
        argv[#argv + 1] = "--resume"
        argv[#argv + 1] = cfg.resume_id
      else
        argv[#argv + 1] = "--continue"
      end
    elseif cfg.conversation_id then
      argv[#argv + 1] = "--session-id"
      argv[#argv + 1] = cfg.conversation_id
    end
    if type(cfg.hooks) == "table" then
      -- Per-run hooks (doeff-agents hook EVENT): --settings adds its hook
      -- arrays to the user's own (checked on 2.1.197); no file is written.
      local hooks = {}
      for event, command in pairs(cfg.hooks.command) do
        local entry = { hooks = { { type = "command", command = command, timeout = 5 } } }
        if event == "Notification" then
          entry.matcher = "permission_prompt|idle_prompt|elicitation_dialog"
        end
        hooks[event] = { entry }
      end
      argv[#argv + 1] = "--settings"
      argv[#argv + 1] = agents.json({ hooks = hooks })
    end
    if cfg.prompt then
      if cfg.prompt:sub(1, 1) == "-" then argv[#argv + 1] = "--" end
      argv[#argv + 1] = cfg.prompt
    end
    return argv
  end,
  -- The screen model: the composer "❯" sits between two rules (an echo of
  -- a sent prompt, "❯ text" above, does not, nor starship's "❯" prompt under
  -- the footer once Claude exited); a turn starts under the
  -- echo. Errors decide only from the latest turn (an older turn's 429
  -- decides nothing); "❯" under the footer is a shell prompt (starship).
  screen = {
    composer = "^❯",
    ruled = "around",
    turn_start = "^❯ \\S",
  },
  patterns = {
    -- The composer up, with no activity marker: idle (also when it holds
    -- text restored after an interrupt, or text the user is typing).
    { status = "blocked", reason = "idle_prompt", when = "unchanged", regex = "^❯", region = "composer" },
    -- "✻ Worked for 12s": the turn is over (unless a shell still runs).
    { status = "blocked", reason = "idle_prompt", when = "unchanged", regex = "^✻ \\S+ed for <?\\d",
      region = "turn", unless = { "still running" } },
  },
}
