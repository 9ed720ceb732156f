//! The `doeff-agents` binary: the library's command line, nothing else.

fn main() {
    doeff_agents::cli_main()
}
