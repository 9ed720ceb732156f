//! Hiding `run`'s arguments from other processes. The values of `-e
//! KEY=VALUE` and the prompt are in this process's own command line (what
//! `ps` shows, `/proc/PID/cmdline`, readable by every user); once parsed,
//! [`hide_arguments`] overwrites that memory with a neutral title, so they
//! stay readable there only for the moment between `exec` and the parse,
//! not for as long as `run` (or `run --watch`) lives. Linux: the argument
//! area is found in `/proc/self/stat` and written through `/proc/self/mem`
//! (no unsafe code); anywhere else, or if the kernel refuses, nothing
//! changes. `-e KEY` (no `=`) passes a variable from this process's
//! environment, which other users cannot read, without it ever being in
//! any command line.

use std::io::{Seek, SeekFrom, Write};

/// Replaces this process's command line with `title` (arguments separated
/// by NUL, like an argv), padded with NULs to the original length.
pub fn hide_arguments(title: &[&str]) {
    let Some((start, end)) = argument_area() else {
        return;
    };
    let Some(len) = end.checked_sub(start).and_then(|l| usize::try_from(l).ok()) else {
        return;
    };
    if len == 0 {
        return;
    }
    let mut bytes = title.join("\0").into_bytes();
    // The last byte stays NUL: the kernel then shows exactly this area.
    bytes.truncate(len - 1);
    bytes.resize(len, 0);
    if let Ok(mut mem) = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/mem")
        && mem.seek(SeekFrom::Start(start)).is_ok()
    {
        let _ = mem.write_all(&bytes);
    }
}

/// `arg_start` and `arg_end` (fields 48 and 49 of `/proc/self/stat`).
fn argument_area() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (the state).
    Some((fields.get(45)?.parse().ok()?, fields.get(46)?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_area_is_found() {
        let (start, end) = argument_area().expect("Linux /proc/self/stat");
        assert!(end > start);
    }
}
