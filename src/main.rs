//! The `doeff-agents` binary: parse the command line, run it, map errors to
//! one line on stderr and a non-zero exit code.

use clap::Parser;

fn main() {
    let cli = doeff_agents::cli::Cli::parse();
    let code = match doeff_agents::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("doeff-agents: {err}");
            1
        }
    };
    std::process::exit(code);
}
