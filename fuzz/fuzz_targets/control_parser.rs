//! Fuzz target for the tmux control-mode parser: any bytes, split at any
//! point, must parse without panicking and give the same events as one feed.
#![no_main]

use doeff_agents::tmux::control_parser::Parser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = Parser::new().feed(data);
    let cut = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let (head, tail) = data.split_at(cut);
    let mut parser = Parser::new();
    let mut split = parser.feed(head);
    split.extend(parser.feed(tail));
    assert_eq!(whole, split);
});
