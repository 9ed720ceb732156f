-- Auto-approver with an allow-list (supervisor script): when an agent asks
-- permission to run a command, reads the command from the dialog's own
-- text and approves it only when it matches one of ALLOW (Lua patterns,
-- matched against the whole command) and holds no shell control characters
-- (; & | $ ` < > and newlines never pass). Everything else is left for you,
-- and you are notified. Dialogs read: Claude Code's "Bash command" box and
-- the demo agent's "I want to run a command:" line, answered with "1" (Yes).
--   doeff-agents supervise lua/examples/supervise/approve_allowlist.lua
-- DOEFF_APPROVE_ALLOW: the allow-list, patterns separated by newlines
-- (default below).
local ALLOW = {
  "^ls[%w%s%-%./_]*$",
  "^touch [%w%-%./_]+$",
  "^git status$",
  "^git diff[%w%s%-%./_]*$",
  "^cargo test[%w%s%-_]*$",
  "^npm test$",
}
local configured = os.getenv("DOEFF_APPROVE_ALLOW")
if configured then
  ALLOW = {}
  for pattern in configured:gmatch("[^\n]+") do ALLOW[#ALLOW + 1] = pattern end
end

--- The command a permission dialog on `text` asks to run, or nil.
local function asked_command(text)
  local lines = {}
  for line in text:gmatch("[^\n]*") do
    -- Box borders off: "│   touch x   │" -> "touch x".
    line = line:gsub("^%s*[│|]", ""):gsub("[│|]%s*$", "")
    lines[#lines + 1] = line:match("^%s*(.-)%s*$")
  end
  for i = #lines, 1, -1 do
    local inline = lines[i]:match("run a command:%s*(.+)$")
    if inline then return inline end
    if lines[i] == "Bash command" then
      for j = i + 1, #lines do
        if lines[j] ~= "" then return lines[j] end
      end
    end
  end
  return nil
end

local function allowed(command)
  if command:find("[;&|$`<>\\]") then return false end
  for _, pattern in ipairs(ALLOW) do
    if command:find(pattern) then return true end
  end
  return false
end

agents.on("status_changed", function(s, old, new, obs)
  if new ~= "blocked" or obs.reason ~= "permission_prompt" then return end
  local command = asked_command(s:capture { lines = 40 } or "")
  if command and allowed(command) then
    s:send_keys { "1" }
    print(string.format("%s: approved %q", s.name, command))
    return
  end
  local how = agents.notify {
    title = s.name .. " asks for permission",
    body = command or obs.evidence.line,
    urgency = "normal",
  }
  print(string.format("%s: left for you: %s (told via %s)", s.name, tostring(command), how))
end)

return { asked_command = asked_command, allowed = allowed }
