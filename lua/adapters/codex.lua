-- Codex CLI (@openai/codex). The prompt goes in argv.
-- Flags checked against `codex --help` of 0.171.0 (and 0.169): -m,
-- -p/--profile, --dangerously-bypass-approvals-and-sandbox,
-- `resume [ID|--last]`, --no-daemon (no shared background server that
-- outlives the session), `--` before a prompt starting with "-". There is no
-- --full-auto any more. Since 0.171 a profile NAME is the file
-- $CODEX_HOME/NAME.config.toml layered over config.toml; a config.toml that
-- still holds a legacy [profiles.NAME] table makes `--profile NAME` a hard
-- error before the TUI starts (the pane shows it and the process exits).
-- Never emitted: --dangerously-bypass-hook-trust, --approve-for-me.

-- Codex titles a new thread with a side turn of its own, during the first
-- turn, and reports its end through `notify` like any other turn; its
-- first input message starts with this (0.171.0).
local TITLE_TURN = "Generate a concise, single-line task title"

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
  -- What Codex says about itself: its `notify` program (see `launch`),
  -- run with an "agent-turn-complete" JSON as its last argument when a turn
  -- finished; not after an error or an interrupt, nor for an approval
  -- (the screen tells those). Its side turns (TITLE_TURN) carry no status.
  signals = {
    hooks = {
      TurnEnd = { detail = "type", side = false, ["*"] = "blocked/idle_prompt" },
    },
  },
  dialogs = {
    -- Only in a git repository without a trust_level for it.
    { id = "trust", reason = "trust_dialog", answer = { "Enter" }, safe = true,
      match = { "Trust this folder?", "1. Trust and continue" } },
    -- Never answered: its first choice is "Update now".
    { id = "update", reason = "update_dialog", safe = false, match = "Update available" },
    -- Hooks not yet trusted (the user's [hooks], a repository's, a plugin's,
    -- or a per-run `-c hooks.…`): "Hooks need review / N hooks are new or
    -- changed" over "1. Review hooks 2. Trust all and continue 3. Continue
    -- without trusting (hooks won't run)". Never answered: trusting hooks is
    -- the user's call, and so is running without them. Anchored on its own
    -- rows (the title alone on its row, the count line, the numbered trust
    -- choices), not on the start-up warning "N hooks need review before they
    -- can run" that follows skipping it.
    { id = "hook_review", reason = "hook_review", safe = false,
      regex = { "^\\s*Hooks need review\\s*$",
                "^\\s*[0-9]+ hooks? (is|are) new or changed\\.\\s*$",
                "^(› )?\\s*[1-9]\\. (Trust all and continue|Continue without trusting \\(hooks won't run\\))\\s*$" } },
  },
  launch = function(cfg)
    local argv = { "codex" }
    if cfg.resume then
      argv[#argv + 1] = "resume"
      if cfg.resume_id then
        argv[#argv + 1] = cfg.resume_id
      else
        argv[#argv + 1] = "--last"
      end
    end
    argv[#argv + 1] = "--no-daemon"
    if type(cfg.hooks) == "table" and cfg.hooks.argv.TurnEnd then
      -- Per run, `-c notify=[...]`: Codex runs it without asking the user
      -- to trust it (checked on 0.171.0), unlike `-c hooks.…`, whose hooks
      -- wait for the hook_review dialog. Codex runs one notify program:
      -- ours runs the user's own `notify` (from their config.toml) after it.
      local notify = {}
      for i, word in ipairs(cfg.hooks.argv.TurnEnd) do notify[i] = word end
      notify[#notify + 1] = "--side"
      notify[#notify + 1] = "input-messages=" .. TITLE_TURN
      notify[#notify + 1] = "--forward-notify"
      notify[#notify + 1] = "codex"
      argv[#argv + 1] = "-c"
      argv[#argv + 1] = "notify=" .. agents.json(notify)
    end
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
  -- The screen model: the composer and the echo of a sent prompt both
  -- start with "› " (numbered "› 1. Yes" rows are dialog choices); the
  -- lowest one is the composer unless a dialog replaced it. A turn starts
  -- under the echo: an older turn's "■" error decides nothing.
  screen = {
    composer = "^› ",
    turn_start = "^› ",
    -- Printed as it exits: "To continue this session, run codex resume ID".
    goodbye = { "^\\s*To continue this session, run codex resume" },
  },
  patterns = {
    { status = "blocked", reason = "update_dialog", match = "Update available" },
    -- Codex never gives up on a closed port: "Reconnecting... waiting for
    -- network" for a minute or more is a failed connection (under a
    -- minute it is still retrying).
    { status = "failed", reason = "connection_failed", region = "turn",
      regex = "Reconnecting\\.\\.\\. waiting for network \\(([0-9]+m|[0-9]{3,}s)" },
    -- Until the CLI is up its header says "loading" where the folder goes
    -- (older versions: "model: loading").
    { status = "booting", reason = "loading", region = "above_composer", joined = true,
      regex = "(>_ OpenAI Codex[^\\n]*\\n\\s*loading\\s*(\\n|$))|model:\\s+loading\\b" },
    -- Codex hides its "Working" line while it streams an answer: an answer
    -- ("• ") in the latest turn with no end-of-turn line ("Worked for",
    -- an error) and no dialog is a turn still streaming.
    { status = "running", reason = "streaming", regex = "^• ", region = "turn", unless_busy = true,
      unless = { "Worked for <?[0-9]", "^■ ", "^› [1-9]\\. " } },
    -- The composer up (placeholder or text), nothing busy: idle.
    { status = "blocked", reason = "idle_prompt", when = "unchanged", regex = "^› ", region = "composer" },
    -- Error lines start with "■"; limits, overload and an interrupt
    -- ("■ Conversation interrupted") are caught by the default rules.
    { status = "failed", reason = "api_error", regex = "^■ ", region = "turn",
      unless = { "(?i)429|rate limit|usage limit|capacity|high demand|overloaded|401|unauthorized|interrupted|credit|quota|billing" } },
  },
}
