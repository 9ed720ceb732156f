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
      if cfg.session_name then
        argv[#argv + 1] = "--resume"
        argv[#argv + 1] = cfg.session_name
      else
        argv[#argv + 1] = "--continue"
      end
    elseif cfg.conversation_id then
      argv[#argv + 1] = "--session-id"
      argv[#argv + 1] = cfg.conversation_id
    end
    if cfg.prompt then
      if cfg.prompt:sub(1, 1) == "-" then argv[#argv + 1] = "--" end
      argv[#argv + 1] = cfg.prompt
    end
    return argv
  end,
  -- Claude keeps earlier turns on screen: an API error from an older turn
  -- must not decide about the latest one. The latest turn is what lies
  -- between the last prompt echo ("❯ text") and the composer ("❯" at the
  -- bottom); its error, if any, decides; with none, older errors are ignored.
  -- The hook below only ever answers on a screen with an API error.
  classify_when = { "API Error", "Invalid API key" },
  classify = function(screen, ctx)
    local lines = ctx.lines
    local n = #lines
    local composer
    for i = n, math.max(1, n - 8), -1 do
      if lines[i]:match("^❯") then composer = i; break end
    end
    if not composer then return nil end
    for i = composer, n do
      if lines[i]:find("esc to interrupt", 1, true) then return nil end
    end
    local asked
    for i = composer - 1, 1, -1 do
      if lines[i]:match("^❯ ") then asked = i; break end
    end
    if not asked then return nil end
    local function error_of(line)
      if line:find("Retrying", 1, true) then return nil end
      if line:find("API Error: 529", 1, true) or line:find("API Error: Overloaded", 1, true) then
        return "blocked_api", "overloaded"
      end
      if line:find("API Error: Request rejected (429)", 1, true) or line:find("API Error: 429", 1, true) then
        return "blocked_api", "rate_limit"
      end
      if line:find("Invalid API key", 1, true) or line:find("API Error: 401", 1, true) then
        return "failed", "auth_failed"
      end
      if line:find("API Error: Unable to connect", 1, true) then
        return "failed", "connection_failed"
      end
      if line:find("API Error: 500", 1, true) then
        return "failed", "api_error"
      end
      return nil
    end
    for i = composer - 1, asked + 1, -1 do
      local status, reason = error_of(lines[i])
      if status then return status, reason end
    end
    for i = asked - 1, 1, -1 do
      if error_of(lines[i]) then
        -- Only an older turn failed; the latest one ended normally.
        if not ctx.changed then return "blocked", "idle_prompt" end
        return "running", "output_changed"
      end
    end
    return nil
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
