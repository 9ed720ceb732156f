-- The generic adapter: only the built-in default rules. It classifies screens
-- of sessions this product did not start (`ps --all`) and saved screens of any
-- CLI (`explain --agent generic --screen FILE`); it launches nothing.
return agents.adapter {
  name = "generic",
  launch = function(cfg)
    error("the generic adapter only classifies screens; write an adapter to launch a CLI", 0)
  end,
  is_available = function() return false end,
}
