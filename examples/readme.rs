use doeff_agents::{AgentType, Agents, LaunchConfig};
use std::time::Duration;

fn main() -> doeff_agents::Result<()> {
    // Lets this program run the demo agent in the pane (else it needs doeff-agents on PATH).
    doeff_agents::demo::run_demo_agent_if_asked();
    let agents = Agents::from_env()?;
    let config = LaunchConfig::new(AgentType::Custom("demo".into()), ".").prompt("fix the test");
    let mut session = agents.session_scope("fix", &config)?; // stopped on drop
    while !session.is_terminal() {
        let observation = agents.observe(&mut session)?;
        println!("{} ({})", observation.status, observation.reason);
        if observation.reason == "permission_prompt" {
            agents.send_keys(&session, &["1"])?; // answer the demo's approval question
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}
