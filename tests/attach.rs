//! `attach` from inside a tmux client of another server (agents on a
//! private `-L` server): a nested client, never "no current client".

mod support;

use support::{TestServer, stderr};

#[test]
fn attach_from_another_servers_client_opens_a_nested_client() {
    let server = TestServer::new();
    server.launch_waiting_demo("seen");
    let out = server
        .command(&["attach", "seen"])
        .env("TMUX", "/tmp/doeff-no-such-dir/default,1,0")
        .output()
        .expect("attach");
    let err = stderr(&out);
    assert!(
        err.contains("on another tmux server than this client's: opening a nested client"),
        "{err}"
    );
    assert!(!err.contains("no current client"), "{err}");
    // No terminal here, so the nested client itself cannot start; it was
    // tried with TMUX unset (tmux would otherwise refuse to nest).
    assert!(
        !err.contains("sessions should be nested with care"),
        "{err}"
    );
}
