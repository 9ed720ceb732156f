//! Fuzz target for the Lua adapter loader: any source text either loads
//! valid adapters or gives a one-line error; the load budget (1 s) and the
//! memory cap stop runaway code, so nothing panics or hangs. Run with
//! `-timeout=10` so libFuzzer reports a hang past the budget.
#![no_main]

use doeff_agents::AdapterRegistry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A fresh registry (and Lua VM) per input, so one input's leftovers
    // never fill the memory cap for the next.
    let registry =
        AdapterRegistry::builtin_with_exe("doeff-agents").expect("built-in adapters load");
    let source = String::from_utf8_lossy(data);
    if let Err(err) = registry.load_source("fuzz.lua", &source) {
        let message = err.to_string();
        assert_eq!(message.lines().count(), 1, "{message}");
    }
});
