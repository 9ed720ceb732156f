-- The Lua half of the `agents` module (the Rust half passes itself in as
-- `agents`). Concurrency is cooperative: `agents.spawn(fn)` runs fn as a
-- coroutine driven by `agents.run_loop`, and `agents.sleep` inside such a
-- task yields to the loop instead of blocking the whole script.
local agents = ...
-- The scheduler yields from tasks it resumes itself (see agents.spawn).
---@diagnostic disable: await-in-sync

local tasks = {}      -- { co = coroutine, wake = time }
local timers = {}     -- { every = seconds, fn = function, next = time }
---@type table<string, function[]>
local handlers = { status_changed = {}, pr = {} }
local task_set = setmetatable({}, { __mode = "k" })

--- A table of the script's own (in `doeff-agents supervise`: one per script
--- file, kept across its reloads).
agents.state = {}

--- Marks coroutine `co` as a task of a loop that honours its yields
--- (`agents.sleep` inside it yields the seconds instead of blocking); the
--- supervisor runs its handlers, timers and spawned tasks as such.
function agents._task(co)
  task_set[co] = true
  return co
end

--- Sleeps `seconds`; inside a task it lets other tasks and the loop run.
function agents.sleep(seconds)
  local co, is_main = coroutine.running()
  if not is_main and task_set[co] then
    coroutine.yield(seconds)
  else
    agents._block_sleep(seconds)
  end
end

--- Registers `fn` for an event: "status_changed" fn(session, old, new, observation)
--- or "pr" fn(session, url). Events are raised by agents.watch and agents.run_loop.
function agents.on(event, fn)
  local list = handlers[event]
  if not list then
    error("unknown event '" .. tostring(event) .. "' (status_changed or pr)", 2)
  end
  list[#list + 1] = fn
end

--- Calls `fn()` every `seconds` while agents.run_loop runs.
function agents.every(seconds, fn)
  timers[#timers + 1] = { every = seconds, fn = fn, next = agents.now() + seconds }
end

--- Runs `fn(...)` as a task of agents.run_loop.
function agents.spawn(fn, ...)
  local args = table.pack(...)
  local co = coroutine.create(function() return fn(table.unpack(args, 1, args.n)) end)
  task_set[co] = true
  tasks[#tasks + 1] = { co = co, wake = agents.now() }
  return co
end

--- Waits up to `seconds` for output of `panes` (pane ids): inside a task it
--- yields like agents.sleep; else it returns as soon as one of them prints.
local function wait(seconds, panes)
  local co, is_main = coroutine.running()
  if not is_main and task_set[co] then
    coroutine.yield(seconds)
  else
    agents._wait_output(seconds, panes)
  end
end

local function emit(event, ...)
  for _, fn in ipairs(handlers[event]) do fn(...) end
end

-- Raises the events of one observation `o` of `session`.
local function raise(session, o, opts)
  if o.status ~= o.previous and o.previous then
    emit("status_changed", session, o.previous, o.status, o)
    if opts and opts.on_change then opts.on_change(o.previous, o.status, o) end
  end
  for _, url in ipairs(o.new_pr_urls or {}) do
    emit("pr", session, url)
    if opts and opts.on_pr then opts.on_pr(url) end
  end
  return o
end

-- One batched pass over `sessions` (handles), raising their events; the
-- observations in order.
local function observe(sessions, opts)
  local all, err = agents.observe_all(sessions)
  if not all then
    all = {}
    for i, s in ipairs(sessions) do
      all[i] = { status = "exited", reason = "error", is_terminal = true, error = err, session = s, name = s.name }
    end
  end
  for i, o in ipairs(all) do raise(sessions[i], o, opts) end
  return all
end

--- Watches one session until it is terminal (or `timeout` seconds pass).
--- opts: interval (1 s), timeout, on_change(old, new, obs), on_pr(url).
--- Returns the final status, and "timeout" as a second value on timeout.
function agents.watch(session, opts)
  opts = opts or {}
  local interval = opts.interval or 1
  local deadline = opts.timeout and (agents.now() + opts.timeout)
  local one = { session }
  while true do
    local o = observe(one, opts)[1]
    if o.is_terminal then return o.status end
    if deadline and agents.now() >= deadline then return o.status, "timeout" end
    wait(interval, { session.pane_id })
  end
end

--- Launches `name` with `cfg`, calls `fn(session)`, and stops the session
--- afterwards, also when fn raises (the error is raised again).
function agents.with_session(name, cfg, fn)
  local session, err = agents.launch(name, cfg)
  if not session then return nil, err end
  local results = table.pack(pcall(fn, session))
  session:stop()
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

--- The event loop: watches `opts.sessions` (handles), raising
--- "status_changed"/"pr" events, runs spawned tasks and `every` timers.
--- Ends when every watched session is terminal and no task is left, or
--- after `opts.timeout` seconds. Returns a table name -> final status.
function agents.run_loop(opts)
  opts = opts or {}
  local interval = opts.interval or 0.5
  local deadline = opts.timeout and (agents.now() + opts.timeout)
  local watched = {}
  for _, s in ipairs(opts.sessions or {}) do
    watched[#watched + 1] = { session = s, done = false }
  end
  local final = {}
  while true do
    local now = agents.now()
    -- tasks
    local i = 1
    while i <= #tasks do
      local t = tasks[i]
      if coroutine.status(t.co) == "dead" then
        table.remove(tasks, i)
      else
        if t.wake <= now then
          local ok, wait = coroutine.resume(t.co)
          if not ok then error(wait, 0) end
          t.wake = agents.now() + (tonumber(wait) or 0)
        end
        i = i + 1
      end
    end
    -- sessions: one batched pass over those not finished
    local open = 0
    local list, entries = {}, {}
    for _, w in ipairs(watched) do
      if not w.done then
        list[#list + 1] = w.session
        entries[#entries + 1] = w
      end
    end
    if #list > 0 then
      for i, o in ipairs(observe(list)) do
        local w = entries[i]
        final[w.session.name] = o.status
        if o.is_terminal then
          w.done = true
        else
          open = open + 1
        end
      end
    end
    -- timers
    for _, t in ipairs(timers) do
      if t.next <= agents.now() then
        t.fn()
        t.next = agents.now() + t.every
      end
    end
    local live_tasks = 0
    for _, t in ipairs(tasks) do
      if coroutine.status(t.co) ~= "dead" then live_tasks = live_tasks + 1 end
    end
    if open == 0 and live_tasks == 0 then return final end
    if deadline and agents.now() >= deadline then return final, "timeout" end
    local panes = {}
    for _, w in ipairs(watched) do
      if not w.done then panes[#panes + 1] = w.session.pane_id end
    end
    -- Woken early by output of a watched session; tasks and timers keep
    -- their own times (a task due sooner shortens the wait).
    local wake = agents.now() + interval
    for _, t in ipairs(tasks) do wake = math.min(wake, t.wake) end
    for _, t in ipairs(timers) do wake = math.min(wake, t.next) end
    -- (At least 10 ms: a task yielding 0 in a loop must not spin the loop.)
    agents._wait_output(math.max(0.01, wake - agents.now()), panes)
  end
end

-- Effects as values. A program is a function run as a coroutine that
-- yields effects (agents.perform(e) is coroutine.yield(e)); agents.run
-- drives it with a handler (agents.tmux_handler() or agents.mock_handler{}).
agents.effects = {
  launch = function(name, cfg, ready_timeout)
    return { effect = "launch", name = name, config = cfg, ready_timeout = ready_timeout }
  end,
  monitor = function(handle) return { effect = "monitor", handle = handle } end,
  capture = function(handle, lines) return { effect = "capture", handle = handle, lines = lines } end,
  send = function(handle, message, opts)
    opts = opts or {}
    return { effect = "send", handle = handle, message = message,
             enter = opts.enter ~= false, literal = opts.literal ~= false }
  end,
  stop = function(handle) return { effect = "stop", handle = handle } end,
  sleep = function(seconds) return { effect = "sleep", seconds = seconds } end,
}

--- Inside a program: performs one effect and returns its result
--- (or nil, message on an expected failure).
function agents.perform(effect)
  return coroutine.yield(effect)
end

--- Runs `program(...)` as a coroutine, handing each effect it yields to
--- `handler` and resuming it with the result. Returns what the program returns.
function agents.run(program, handler, ...)
  local co = coroutine.create(program)
  local step = table.pack(coroutine.resume(co, ...))
  while true do
    if not step[1] then error(step[2], 0) end
    if coroutine.status(co) == "dead" then
      return table.unpack(step, 2, step.n)
    end
    local effect = step[2]
    if type(effect) ~= "table" or not effect.effect then
      error("a program must yield effects (agents.effects.*), got " .. type(effect), 0)
    end
    step = table.pack(coroutine.resume(co, handler:dispatch(effect)))
  end
end

return agents
