//! Fuzz target for screen normalisation: any bytes become clean lines
//! (no control characters, no trailing spaces or blank rows), and
//! normalising the result again changes nothing.
#![no_main]

use doeff_agents::monitor::{Screen, strip_escapes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let screen = Screen::from_bytes(data);
    for line in &screen.lines {
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert_eq!(line.trim_end(), line);
    }
    assert!(screen.lines.last().is_none_or(|l| !l.is_empty()));
    assert_eq!(Screen::from_text(&screen.text()).lines, screen.lines);
    let _ = screen.content_hash(data.first().map_or(0, |&b| usize::from(b % 8)));
    let _ = strip_escapes(&String::from_utf8_lossy(data));
});
