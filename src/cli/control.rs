//! The small session commands: `send`, `output`, `attach`, `stop`, `adapters`.

use super::GlobalArgs;
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct NameArg {
    /// Session name (with or without the doeff- prefix)
    pub name: String,
    /// Take NAME as an exact tmux session name, also one not made by doeff-agents
    #[arg(long)]
    pub raw_target: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  doeff-agents send fix \"yes, and run the linter too\"
  doeff-agents send fix --keys Enter          # answer a dialog (trust this folder)
  doeff-agents send fix --keys Down Enter     # pick the second choice
  doeff-agents send fix --keys 1              # a numbered choice

Keys: Enter Escape (Esc) Tab BTab Space BSpace Up Down Left Right Home End PageUp PageDown
DC IC F1-F12 C-a..C-z M-a..M-z, or one letter, digit or one of . , - / ? ! : + = _")]
pub struct SendArgs {
    /// Session name
    pub name: String,
    /// Take NAME as an exact tmux session name, also one not made by doeff-agents
    #[arg(long)]
    pub raw_target: bool,
    /// The message (sent exactly; multi-line text is pasted as one message).
    /// Fails at once while a dialog is on screen: answer it with --keys
    #[arg(allow_hyphen_values = true, required_unless_present = "keys")]
    pub text: Option<String>,
    /// Type the text without pressing Enter
    #[arg(long)]
    pub no_enter: bool,
    /// Send these named keys at once instead of a message, e.g. to answer a
    /// dialog: Enter, Esc, Tab, Up, Down, C-c, y, 1 ... (see --help)
    #[arg(long, num_args = 1.., value_name = "KEY", conflicts_with_all = ["text", "no_enter"])]
    pub keys: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    /// Session name
    pub name: String,
    /// Take NAME as an exact tmux session name, also one not made by doeff-agents
    #[arg(long)]
    pub raw_target: bool,
    /// How many lines (screen and scrollback)
    #[arg(short = 'n', long, default_value_t = 100)]
    pub lines: usize,
}

#[derive(Debug, clap::Args)]
pub struct AdaptersArgs {
    /// A JSON array instead of a table
    #[arg(long)]
    pub json: bool,
}

pub fn send(global: &GlobalArgs, args: SendArgs) -> Result<i32> {
    let agents = global.agents(super::Lifetime::OneShot)?;
    if !args.keys.is_empty() {
        // Refused before the session is even looked up.
        let keys = crate::session::key_names(&args.keys)?;
        let session = super::resolve(&agents, &args.name, args.raw_target)?;
        agents.send_keys(&session, &keys)?;
        return Ok(0);
    }
    let session = super::resolve(&agents, &args.name, args.raw_target)?;
    let _spinner = super::progress::Spinner::start(format!(
        "waiting for {} to take the message",
        session.session_name
    ));
    agents.send_message(&session, args.text.as_deref().unwrap_or(""), !args.no_enter)?;
    Ok(0)
}

pub fn output(global: &GlobalArgs, args: OutputArgs) -> Result<i32> {
    let agents = global.agents(super::Lifetime::OneShot)?;
    let session = super::resolve(&agents, &args.name, args.raw_target)?;
    println!("{}", agents.capture_output(&session, args.lines)?);
    Ok(0)
}

pub fn attach(global: &GlobalArgs, args: NameArg) -> Result<i32> {
    let agents = global.agents(super::Lifetime::OneShot)?;
    let session = super::resolve(&agents, &args.name, args.raw_target)?;
    agents.attach_session(&session)?;
    Ok(0)
}

pub fn stop(global: &GlobalArgs, args: NameArg) -> Result<i32> {
    let agents = global.agents(super::Lifetime::OneShot)?;
    let mut session = match super::resolve(&agents, &args.name, args.raw_target) {
        Ok(session) => session,
        // Idempotent: a session stopped before is not an error.
        Err(Error::SessionNotFound(_)) if !args.raw_target && agents.was_stopped(&args.name) => {
            let full = crate::session::session_name(&args.name)?;
            println!("{full} was already stopped");
            return Ok(0);
        }
        Err(err) => return Err(err),
    };
    agents.stop_session(&mut session)?;
    println!("stopped {}", session.session_name);
    Ok(0)
}

pub fn adapters(global: &GlobalArgs, args: AdaptersArgs) -> Result<i32> {
    let registry = global.registry()?;
    let rows = registry.list(&crate::session::user_path());
    let errors = registry.load_errors();
    // A file that failed to load is a failure (exit 1), also with --json.
    let exit = i32::from(!errors.is_empty() || rows.iter().any(|r| r.error.is_some()));
    if args.json {
        let value = serde_json::json!({
            "adapters": rows.iter().map(|r| serde_json::json!({
                "name": r.name, "source": r.source, "binary": r.binary, "available": r.available,
            })).collect::<Vec<_>>(),
            "errors": errors.iter().map(|e| serde_json::json!({"path": e.path, "message": e.message})).collect::<Vec<_>>(),
        });
        println!("{value:#}");
        return Ok(exit);
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  {:<9}  SOURCE", "NAME", "AVAILABLE");
    for r in &rows {
        println!(
            "{:<width$}  {:<9}  {}",
            r.name,
            if r.available { "yes" } else { "no" },
            r.source
        );
    }
    for e in &errors {
        println!("error: {}", e.message);
    }
    for message in rows.iter().filter_map(|r| r.error.as_ref()) {
        println!("error: {message}");
    }
    Ok(exit)
}
