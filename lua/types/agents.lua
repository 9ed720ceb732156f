---@meta
-- LuaLS definitions for the `agents` module of doeff-agents (scripts, the
-- REPL, and adapter files). Point your editor's Lua language server at
-- this folder ("workspace.library") for completion and type checks.
-- tests/lua.rs keeps this file in step with the functions the host registers.

---@alias agents.Status "pending"|"booting"|"running"|"blocked"|"blocked_api"|"done"|"failed"|"exited"|"stopped"

---@class agents.LaunchConfig
---@field agent string               adapter name: claude, codex, gemini, demo, or a user adapter
---@field work_dir? string           default "."
---@field prompt? string
---@field profile? string
---@field resume? boolean
---@field resume_id? string          the agent's own conversation id, for resume (old name: session_name)
---@field accept_dialogs? boolean    answer the adapter's known safe start-up dialogs
---@field conversation_id? string    the id a new conversation gets, for CLIs that take one
---@field model? string
---@field env? table<string,string>
---@field skip_permissions? boolean
---@field ready_timeout? number      seconds (default 30)
---@field hooks? boolean|agents.HookLaunch  false: no per-run hooks; in `launch(cfg)`, the hook commands to pass

---What `launch(cfg)` gets in `cfg.hooks` when the adapter declares `signals.hooks`.
---@class agents.HookLaunch
---@field exe string                         absolute path of this doeff-agents
---@field argv table<string, string[]>       per event: the hook's command as words
---@field command table<string, string>      per event: the same as one shell-quoted command line
---@field settings_file fun(text: string, var: string): string|nil  writes text to settings.json in a fresh 0700 directory of this run and sets var to its path in the agent's environment; nil (nothing written) when the run has no private place for it

---@class agents.Evidence
---@field rule string     the rule that decided (`default.rate_limit`, `claude.classify`, `process`, `change`)
---@field region string   the region it looked at (`turn`, `footer`, `last_lines(6)`; `hook`, `process`, `change`)
---@field line string     the screen line it matched (for a hook: the line it returned)

---@class agents.Observation
---@field status agents.Status
---@field previous agents.Status
---@field reason string
---@field evidence agents.Evidence
---@field output_changed boolean
---@field pr_url? string
---@field new_pr_urls string[]
---@field output_snippet string
---@field is_terminal boolean
---@field warnings string[]      a classify hook's error, a failed adapter reload (each once)
---@field name? string           the session's name (in supervisor handlers)
---@field host? string           the host it runs on, for a session of `supervise --host`

---@class agents.SessionRow
---@field name string
---@field agent string
---@field work_dir string
---@field created integer
---@field pane_id string

---@class agents.Session
---@field name string
---@field pane_id string|nil  the pane last seen for it
local Session = {}
---@param text string
---@param opts? {enter?: boolean}
---@return boolean|nil ok, string? err
function Session:send(text, opts) end
---Named keys at once, whatever is on screen (answering dialogs):
---`s:send_keys{ "Down", "Enter" }`. Allow-listed: Enter, Escape (Esc), Tab,
---BTab, Space, BSpace, Up, Down, Left, Right, Home, End, PageUp, PageDown, DC,
---IC, F1-F12, C-a..C-z, M-a..M-z, one letter, digit or one of . , - / ? ! : + = _
---@param keys string[]
---@return boolean|nil ok, string? err
function Session:send_keys(keys) end
---Same as `send_keys`, keys as arguments: `s:keys("Down", "Enter")`.
---@param ... string
---@return boolean|nil ok, string? err
function Session:keys(...) end
---@param opts? {lines?: integer}
---@return string|nil text, string? err
function Session:capture(opts) end
---@return agents.Status|nil status, string? err
function Session:status() end
---@return agents.Observation|nil observation, string? err
function Session:observe() end
---@return boolean|nil ok, string? err
function Session:stop() end
---@return boolean|nil ok, string? err
function Session:attach() end
---@return agents.SessionRow|nil row, string? err
function Session:info() end

---@class agents.Pattern
---@field status agents.Status
---@field reason? string
---@field match? string|string[]     substring(s)
---@field regex? string|string[]     regex(es), Rust syntax
---@field nocase? boolean
---@field last? integer              fallback: look at the last N non-blank lines
---@field region? agents.Region       default "latest"
---@field unless_busy? boolean        a live activity marker cancels it (always so for "blocked" rules)
---@field unless? string|string[]    regexes that cancel the rule
---@field unless_region? agents.Region  where `unless` looks (default: the rule's own region)
---@field when? "always"|"unchanged"   default "always"; "unchanged" = a waiting-for-input rule, only on a still screen
---@field joined? boolean            match the region as one multi-line text
---@field id? string

---Named parts of an adapter's UI, found from its `screen` model once per screen:
---"turn" (under the echo of the last user prompt, above the composer; the whole
---screen above the composer when no echo shows), "above_composer", "composer"
---(what the user is typing), "footer" (under the composer), "latest" (turn and
---footer: never the composer), "activity" (busy lines in "latest", wherever they
---sit), "below" (under the agent's last frame: the footer, or the last 3 rows without
---a composer; "below_last": its last row only), "bottom" (composer and footer), "screen", "title". Without a
---`screen` model, "turn"/"latest" are the last 12 non-blank lines.
---@alias agents.Region "turn"|"above_composer"|"composer"|"footer"|"latest"|"activity"|"below"|"below_last"|"bottom"|"screen"|"title"

---How an adapter's UI is laid out. Rules address its regions by name, so extra
---notice rows, a spinner above an input box or a short pane move nothing.
---@class agents.ScreenModel
---@field composer? string|string[]   regex(es) of the composer line; the lowest match that is not a dialog choice and has no dialog choice under it
---@field ruled? boolean|"around"     the composer sits under a horizontal rule or box top (within 4 non-blank rows; an old echo does not); "around": a closing rule under it too
---@field turn_start? string|string[] regex(es) of the echo of a sent prompt: the latest turn starts under the lowest one above the composer
---@field activity? string|string[]   busy lines (spinner, "esc to cancel") beyond the built-in ones
---@field goodbye? string|string[]    lines the CLI prints as it exits (a saved screen showing one is exited)

---A start-up or in-turn dialog the adapter knows. A dialog on screen is
---`blocked` with its `reason`; `accept_dialogs` answers only `safe` ones.
---@class agents.Dialog
---@field id string
---@field reason string
---@field match? string|string[]      substring(s), any of them
---@field regex? string|string[]      regex(es), any of them
---@field nocase? boolean
---@field answer? string[]            named keys that answer it (see Session:send_keys)
---@field safe? boolean               may be answered for the user (`accept_dialogs`)

---What the agent says about itself, beside its screen.
---`hooks` maps each hook event to a status ("running", "blocked/permission_prompt"),
---false (an event that changes nothing), "screen" (no status, and the last report stands no
---more: the screen decides), or a table keyed by one field of the
---event's JSON: `{ detail = "notification_type", permission_prompt = "blocked/permission_prompt" }`.
---@class agents.Signals
---@field registry? "claude"|false    Claude Code's session registry (sessions/<pid>.json)
---@field hooks? table<string, string|false|table<string, string|false>>|false

---What an adapter's `launch(cfg)` gets: the config with its defaults filled in.
---@class agents.LaunchArgs: agents.LaunchConfig
---@field work_dir string
---@field env table<string, string?>
---@field hooks? false|agents.HookLaunch  the per-run hook commands, false when hooks are off

---@class agents.AdapterSpec
---@field name string
---@field binary? string
---@field launch fun(cfg: agents.LaunchArgs): string[]
---@field injection? "arg"|"tmux"
---@field ready_pattern? string
---@field status_bar_lines? integer
---@field patterns? agents.Pattern[]
---@field screen? agents.ScreenModel
---@field prints_completion? boolean  its CLI prints "Task completed successfully"-style lines: only then do they mean done
---@field classify? fun(screen: string, ctx: {changed: boolean, previous: agents.Status, title: string, lines: string[], process: string}): (agents.Status|nil), string?, string?  status, reason, and the line it based its verdict on
---@field classify_when? string|string[]  call classify only when a screen line holds one of these substrings
---@field is_available? fun(): boolean
---@field exit_zero_is_done? boolean
---@field busy? string|string[]     same as screen.activity
---@field shell? boolean             launch runs the agent through an interactive shell: the shell alone in the foreground again means the agent exited
---@field disable? string[]
---@field dialogs? agents.Dialog[]
---@field composer? string           regex with one capture group: the text in the composer (e.g. restored unsent text)
---@field conversation? string|string[]  regex(es) with one capture group: the agent's own conversation id on screen
---@field conversation_at_launch? boolean  the CLI takes the id a new conversation gets (`cfg.conversation_id`)
---@field signals? agents.Signals|false
---@field description? string

---@class agents.Tmux
local Tmux = {}
---@return boolean
function Tmux.is_tmux_available() end
---@return boolean
function Tmux.is_inside_tmux() end
---@param name string
---@return boolean|nil exists, string? err
function Tmux.has_session(name) end
---@return table[]|nil sessions, string? err
function Tmux.list_sessions() end
---@param name string
---@param argv string[]
---@param opts? {work_dir?: string}
---@return string|nil pane_id, string? err
function Tmux.new_session(name, argv, opts) end
---@param target string
---@param keys string|string[]
---@param literal? boolean
---@return boolean|nil ok, string? err
function Tmux.send_keys(target, keys, literal) end
---@param target string
---@param history? integer
---@return string|nil text, string? err
function Tmux.capture_pane(target, history) end
---@param name string
---@return boolean|nil ok, string? err
function Tmux.kill_session(name) end
---@param name string
---@return boolean|nil ok, string? err
function Tmux.attach_session(name) end

---@class agents
---@field tmux agents.Tmux
---@field state table  the script's own table; in `supervise`, one per script file, kept across its reloads
---@field load? fun(path: string): (boolean|nil), string?   REPL only: runs a script file (or folder of *.lua) with the supervisor's rules
---@field reload? fun(): (boolean|nil), string?              REPL only: loads every loaded script again (a broken one keeps its last good version)
---@field supervise? fun(opts?: {timeout?: number}): boolean   REPL only: runs the loaded scripts' handlers until Ctrl-C
---@field self_exe fun(): string                           adapter files only: this doeff-agents binary (the demo agent runs it)
---@field json fun(value: any): string                      adapter files only: a value as JSON (e.g. Claude Code's --settings)
---@field is_root fun(): boolean                           adapter files only: running as root
---@field file_exists fun(path: string): boolean          adapter files only: a file is at path
agents = {}

---@param name string
---@param cfg agents.LaunchConfig
---@return agents.Session|nil session, string? err
function agents.launch(name, cfg) end
---@param name string
---@return agents.Session|nil session, string? err
function agents.session(name) end
---@param opts? {all?: boolean}
---@return agents.SessionRow[]|nil sessions, string? err
function agents.list(opts) end
---@return {name: string, source: string, binary?: string, available: boolean}[]
function agents.adapters() end
---@param spec agents.AdapterSpec
---@return agents.AdapterSpec
function agents.adapter(spec) end
---@param spec agents.AdapterSpec
---@return agents.AdapterSpec
function agents.register_adapter(spec) end
---@param seconds number
function agents.sleep(seconds) end
---@return number seconds since the module loaded
function agents.now() end
---@param session agents.Session
---@param opts? {interval?: number, timeout?: number, on_change?: fun(old: agents.Status, new: agents.Status, obs: agents.Observation), on_pr?: fun(url: string)}
---@return agents.Status final, string? timeout
function agents.watch(session, opts) end
---@param session agents.Session
---@param interval? number
---@return boolean
function agents.follow(session, interval) end
---@generic T
---@param name string
---@param cfg agents.LaunchConfig
---@param fn fun(session: agents.Session): T
---@return T
function agents.with_session(name, cfg, fn) end
---Registers a handler (in `supervise`: of this script file; removed when the
---file is reloaded). Raised by agents.watch, agents.run_loop and the supervisor.
---@overload fun(event: "status_changed", fn: fun(session: agents.Session|agents.HostSession, old: agents.Status, new: agents.Status, obs: agents.Observation))
---@overload fun(event: "pr", fn: fun(session: agents.Session|agents.HostSession, url: string))
---@param event "status_changed"|"pr"
---@param fn function
function agents.on(event, fn) end
---Tells the person: a desktop notification (notify-send, or osascript on macOS)
---where one is on PATH, else a terminal bell and a tmux message on every
---attached client. Returns how it went out.
---@param n {title: string, body?: string, urgency?: "low"|"normal"|"critical"}
---@return "notify-send"|"osascript"|"tmux"|"bell"
function agents.notify(n) end

---@class agents.HostEvent
---@field kind "status"|"pr"|"warning"|"host_unreachable"
---@field host string
---@field session? string
---@field old? agents.Status
---@field new? agents.Status
---@field reason? string
---@field seq? integer
---@field url? string
---@field message? string
---@field sessions? {session: string, status: agents.Status, stale: boolean}[]

---A session on another host (see agents.host).
---@class agents.HostSession
---@field name string
---@field host string
local HostSession = {}
---@return boolean|nil ok, string? err
function HostSession:send(text, enter) end
---@param keys string[]
---@return boolean|nil ok, string? err
function HostSession:send_keys(keys) end
---@return string|nil text, string? err
function HostSession:capture(opts) end
---@return agents.Status|nil status, string? err
function HostSession:status() end
---@return table|nil observation, string? err
function HostSession:observe() end
---@return boolean|nil ok, string? err
function HostSession:stop() end

---Another machine, reached over ssh (`--host NAME`).
---@class agents.Host
---@field name string
local Host = {}
---@param name string
---@param cfg agents.LaunchConfig
---@return agents.HostSession|nil session, string? err
function Host:launch(name, cfg) end
---@return agents.HostSession
function Host:session(name) end
---@return table[]|nil rows, string? err
function Host:list(opts) end
---@param name string
---@param opts? {timeout?: number}
---@return agents.Status|nil status, string? err
function Host:watch(name, opts) end
---@param fn fun(ev: agents.HostEvent): boolean?
---@param opts? {timeout?: number}
---@return boolean stopped
function Host:follow(fn, opts) end

---The agents API bound to a host from hosts.toml, an ssh destination, or "local".
---@param name string
---@return agents.Host|nil host, string? err
function agents.host(name) end

---Follows several hosts at once: `fn(event)` per change until it returns true
---(then true) or the timeout passes (then false).
---@param hosts agents.Host[]
---@param fn fun(ev: agents.HostEvent): boolean?
---@param opts? {timeout?: number}
---@return boolean stopped
function agents.follow_hosts(hosts, fn, opts) end
---One observation of a batched pass (`agents.observe_all`).
---@class agents.PassObservation: agents.Observation
---@field name string            the session's name
---@field session agents.Session the handle observed
---@field error? string          why it could not be observed (then status "exited", reason "error")

---One batched pass (what `watch` and the supervisor run: one pane-state query,
---captures only of panes that changed) over `sessions`, or over every doeff
---session on the server. Each handle keeps its history, as with `s:observe()`.
---@param sessions? agents.Session[]
---@return agents.PassObservation[]|nil observations, string? err
function agents.observe_all(sessions) end
---@param seconds number
---@param fn fun()
function agents.every(seconds, fn) end
---@param fn function
---@return thread
function agents.spawn(fn, ...) end
---@param opts? {sessions?: agents.Session[], interval?: number, timeout?: number}
---@return table<string, agents.Status> final, string? timeout
function agents.run_loop(opts) end

---@class agents.Effect
---@field effect "launch"|"monitor"|"capture"|"send"|"stop"|"sleep"

---@class agents.Handle
---@field session_name string
---@field pane_id string
---@field agent_type string
---@field work_dir string
---@field started_at number

---@class agents.Handler
local Handler = {}
---@param effect agents.Effect
---@return any result, string? err
function Handler:dispatch(effect) end
---Mock only: what was sent, slept, launched, stopped.
---@return {session: string, message: string, enter: boolean}[]
function Handler:sent_messages() end
---@return number[]
function Handler:sleeps() end
---@return number
function Handler:total_sleep_time() end
---@return string[]
function Handler:launches() end
---@return string[]
function Handler:stops() end
---@param name string
---@return agents.Status?
function Handler:status(name) end
---@param name string
---@return string?
function Handler:output(name) end
---@param name string
---@param steps {[1]: agents.Status, [2]: string}[]
---@param initial_output? string
function Handler:configure_session(name, steps, initial_output) end

---@class agents.AgentResult
---@field handle agents.Handle
---@field final_status agents.Status
---@field output string
---@field pr_url? string
---@field iterations integer
---@field succeeded boolean
---@field failed boolean

---@class agents.RunOptions
---@field poll_interval? number
---@field timeout_iterations? integer
---@field capture_lines? integer
---@field ready_timeout? number

agents.effects = {}
---@param name string
---@param cfg agents.LaunchConfig
---@param ready_timeout? number
---@return agents.Effect
function agents.effects.launch(name, cfg, ready_timeout) end
---@param handle agents.Handle
---@return agents.Effect
function agents.effects.monitor(handle) end
---@param handle agents.Handle
---@param lines? integer
---@return agents.Effect
function agents.effects.capture(handle, lines) end
---@param handle agents.Handle
---@param message string
---@param opts? {enter?: boolean, literal?: boolean}
---@return agents.Effect
function agents.effects.send(handle, message, opts) end
---@param handle agents.Handle
---@return agents.Effect
function agents.effects.stop(handle) end
---@param seconds number
---@return agents.Effect
function agents.effects.sleep(seconds) end

---@param effect agents.Effect
---@return any result, string? err
function agents.perform(effect) end
---@param program function
---@param handler agents.Handler
---@return any
function agents.run(program, handler, ...) end
---@return agents.Handler
function agents.tmux_handler() end
---@param opts? {sessions?: table<string, {[1]: agents.Status, [2]: string}[]>}
---@return agents.Handler
function agents.mock_handler(opts) end

agents.programs = {}
---@param handler agents.Handler
---@param name string
---@param cfg agents.LaunchConfig
---@param opts? agents.RunOptions
---@param on_observation? fun(obs: agents.Observation)
---@return agents.AgentResult|nil result, string? err
function agents.programs.run_agent_to_completion(handler, name, cfg, opts, on_observation) end
---@param handler agents.Handler
---@param name string
---@param cfg agents.LaunchConfig
---@param messages string[]
---@param opts? agents.RunOptions
---@return agents.AgentResult|nil result, string? err
function agents.programs.interactive_session(handler, name, cfg, messages, opts) end
---@param handler agents.Handler
---@param name string
---@param agent string
---@param work_dir string
---@param prompt string
---@return agents.AgentResult|nil result, string? err
function agents.programs.quick_agent(handler, name, agent, work_dir, prompt) end
---@param handler agents.Handler
---@param handle agents.Handle
---@param poll_interval? number
---@param max_iterations? integer
---@return agents.Observation|nil observation, string? err
function agents.programs.monitor_until_terminal(handler, handle, poll_interval, max_iterations) end

return agents
