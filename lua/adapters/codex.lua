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
  -- The composer line; numbered "› 1. Yes" rows are dialog choices.
  ready_pattern = "^› (\\D|$)",
  composer = "^› (.*)$",
  -- Printed on exit ("Session ID: …", "codex resume …") and by /status.
  conversation = { "codex resume ([0-9a-f-]{36})", "Session ID:\\s+([0-9a-f-]{36})" },
  dialogs = {
    -- Only in a git repository without a trust_level for it.
    { id = "trust", reason = "trust_dialog", answer = { "Enter" }, safe = true,
      match = { "Trust this folder?", "1. Trust and continue" } },
    -- Never answered: its first choice is "Update now".
    { id = "update", reason = "update_dialog", safe = false, match = "Update available" },
  },
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
    -- The composer with its placeholder, above the model line: idle.
    { status = "blocked", reason = "idle_prompt", when = "unchanged", regex = "^› [^\\d\\s]", last = 3 },
    -- Error lines start with "■"; limits and overload are caught by the
    -- default rules before this one.
    { status = "failed", reason = "api_error", regex = "^■ ", last = 8,
      unless = { "(?i)429|rate limit|capacity|high demand|overloaded|401|unauthorized" } },
  },
  -- Codex hides its "Working" line while it streams an answer and keeps
  -- "Reconnecting..." on screen for ever when it cannot reach the API; one
  -- frame needs reading as a whole to tell those apart from idle and retrying.
  -- The hook below only answers on a screen with a reconnect notice, an
  -- error ("■ ") or an answer ("• ").
  classify_when = { "Reconnecting", "■ ", "• " },
  classify = function(screen, ctx)
    local lines = ctx.lines
    local n = #lines
    -- Most lines of a frame are blank: each loop skips them before any
    -- string call, and whole-screen finds skip loops that cannot match.
    for i = math.max(1, n - 3), n do
      local line = lines[i]
      if line ~= "" and (line:match("^bash%-[%d.]+[$#]") or line:match("^[%w.-]+@[%w.-]+:")) then
        return nil -- a shell took over: the default rules say exited
      end
    end
    if screen:find("Reconnecting...", 1, true) then
      for i = n, math.max(1, n - 12), -1 do
        local minutes = lines[i]:match("Reconnecting%.%.%. waiting for network %((%d+)m")
        local seconds = lines[i]:match("Reconnecting%.%.%. waiting for network %((%d+)s")
        if minutes or (seconds and tonumber(seconds) >= 30) then
          return "failed", "connection_failed"
        end
      end
    end
    -- Codex keeps earlier turns' "■" error lines on screen: the lowest one
    -- decides, unless an answer ("• ") or live work came after it.
    local busy = false
    if screen:find("esc to interrupt", 1, true) then
      for i = math.max(1, n - 8), n do
        if lines[i]:find("esc to interrupt", 1, true) then busy = true end
      end
    end
    if not busy and screen:find("■ ", 1, true) then
      for i = n, 1, -1 do
        local line = lines[i]
        if line ~= "" then
          if line:match("^• ") then break end
          if line:match("^■ ") then
            local lower = line:lower()
            if lower:find("429", 1, true) or lower:find("rate limit", 1, true)
                or lower:find("usage limit", 1, true) then
              return "blocked_api", "rate_limit"
            end
            if lower:find("capacity", 1, true) or lower:find("high demand", 1, true)
                or lower:find("overloaded", 1, true) then
              return "blocked_api", "overloaded"
            end
            if lower:find("401", 1, true) or lower:find("unauthorized", 1, true) then
              return "failed", "auth_failed"
            end
            break
          end
        end
      end
    end
    -- The composer is the last "› " line that is not a numbered choice.
    local composer
    for i = n, 1, -1 do
      local line = lines[i]
      if line ~= "" and line:match("^› ") and not line:match("^› %d+%. ") then
        composer = i
        break
      end
    end
    if not composer then return nil end
    local asked
    for i = composer - 1, 1, -1 do
      local line = lines[i]
      if line ~= "" and line:match("^› ") then
        asked = i
        break
      end
    end
    if not asked then return nil end
    local answering, finished = false, false
    for i = asked + 1, composer - 1 do
      local line = lines[i]
      if line ~= "" then
        if line:find("esc to interrupt", 1, true) then return nil end
        if line:match("^• ") then answering = true end
        if line:find("Worked for ", 1, true) or line:match("^■ ") then finished = true end
      end
    end
    if answering and not finished then
      return "running", "streaming"
    end
    return nil
  end,
}
