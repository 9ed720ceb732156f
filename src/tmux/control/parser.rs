//! The pure parser for tmux control-mode output (`tmux -C`). It owns nothing
//! but bytes: feed it whatever the pipe gave (any split, any bytes) and it
//! returns complete [`Event`]s.
//!
//! The protocol: every command's reply is a block
//!
//! ```text
//! %begin TIME NUMBER FLAGS
//! ...raw output lines...
//! %end TIME NUMBER FLAGS        (or %error TIME NUMBER FLAGS)
//! ```
//!
//! A block ends only at the `%end`/`%error` line whose three fields equal its
//! `%begin`'s: any other line inside a block, even one that looks like a guard,
//! is data (a pane can print `%end 1 2 1`). Outside blocks, every line is a
//! notification (`%output`, `%session-changed`, `%exit`, ...). Data is raw
//! bytes, never assumed to be UTF-8.

/// The three fields of a `%begin`/`%end`/`%error` guard line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guard {
    pub time: u64,
    pub number: u64,
    pub flags: u64,
}

impl Guard {
    /// True when the command came from this client (tmux sets flag 1).
    pub fn from_client(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// One command's complete reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub guard: Guard,
    /// `%end` (true) or `%error` (false).
    pub ok: bool,
    /// The block's lines, each followed by `\n` (empty for an empty block).
    pub data: Vec<u8>,
}

impl Reply {
    /// The block's data as one line of text (tmux's error message).
    pub fn message(&self) -> String {
        String::from_utf8_lossy(&self.data)
            .trim()
            .replace('\n', "; ")
    }
}

/// A line outside any block: `%name rest...` (or anything else tmux printed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The word after `%` (`output`, `exit`, ...); empty for a line without `%`.
    pub name: String,
    /// The rest of the line after the name and one space, raw.
    pub rest: Vec<u8>,
}

/// What the parser produces.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    Reply(Reply),
    Notification(Notification),
}

/// Incremental control-mode parser.
#[derive(Debug, Default)]
pub struct Parser {
    /// Bytes not yet ending in `\n`.
    pending: Vec<u8>,
    /// The open block, if any.
    block: Option<(Guard, Vec<u8>)>,
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes and returns the events they complete, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(at);
            rest = tail.get(1..).unwrap_or_default();
            if self.pending.is_empty() {
                self.line(head, &mut events);
            } else {
                let mut line = std::mem::take(&mut self.pending);
                line.extend_from_slice(head);
                self.line(&line, &mut events);
            }
        }
        self.pending.extend_from_slice(rest);
        events
    }

    /// True when no block is open and no partial line is buffered.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.block.is_none()
    }

    fn line(&mut self, line: &[u8], events: &mut Vec<Event>) {
        if let Some((guard, data)) = &mut self.block {
            let end = parse_guard(line, b"%end").map(|g| (g, true));
            let end = end.or_else(|| parse_guard(line, b"%error").map(|g| (g, false)));
            match end {
                Some((closing, ok)) if closing == *guard => {
                    let guard = *guard;
                    let data = std::mem::take(data);
                    self.block = None;
                    events.push(Event::Reply(Reply { guard, ok, data }));
                }
                _ => {
                    data.extend_from_slice(line);
                    data.push(b'\n');
                }
            }
            return;
        }
        if let Some(guard) = parse_guard(line, b"%begin") {
            self.block = Some((guard, Vec::new()));
            return;
        }
        events.push(Event::Notification(parse_notification(line)));
    }
}

/// Parses `KEYWORD TIME NUMBER FLAGS` (an optional trailing `\r` is allowed).
fn parse_guard(line: &[u8], keyword: &[u8]) -> Option<Guard> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = line.strip_prefix(keyword)?.strip_prefix(b" ")?;
    let mut fields = rest.split(|&b| b == b' ');
    let time = parse_number(fields.next()?)?;
    let number = parse_number(fields.next()?)?;
    let flags = parse_number(fields.next()?)?;
    if fields.next().is_some() {
        return None;
    }
    Some(Guard {
        time,
        number,
        flags,
    })
}

fn parse_number(field: &[u8]) -> Option<u64> {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

fn parse_notification(line: &[u8]) -> Notification {
    let Some(body) = line.strip_prefix(b"%") else {
        return Notification {
            name: String::new(),
            rest: line.to_vec(),
        };
    };
    let (name, rest) = match body.iter().position(|&b| b == b' ') {
        Some(at) => (&body[..at], body.get(at + 1..).unwrap_or_default()),
        None => (body, &[][..]),
    };
    Notification {
        name: String::from_utf8_lossy(name).into_owned(),
        rest: rest.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(events: &[Event]) -> Vec<&Reply> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Reply(r) => Some(r),
                Event::Notification(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_block_with_data_becomes_one_reply() {
        let mut parser = Parser::new();
        let events = parser.feed(b"%begin 10 20 1\nhello\nworld\n%end 10 20 1\n");
        assert_eq!(
            events,
            vec![Event::Reply(Reply {
                guard: Guard {
                    time: 10,
                    number: 20,
                    flags: 1
                },
                ok: true,
                data: b"hello\nworld\n".to_vec(),
            })]
        );
        assert!(parser.is_idle());
    }

    #[test]
    fn errors_carry_their_message() {
        let mut parser = Parser::new();
        let events = parser.feed(b"%begin 1 2 1\ncan't find session: x\n%error 1 2 1\n");
        let replies = reply(&events);
        assert_eq!(replies.len(), 1);
        assert!(!replies[0].ok);
        assert_eq!(replies[0].message(), "can't find session: x");
    }

    #[test]
    fn notifications_between_blocks_are_separate_events() {
        let mut parser = Parser::new();
        let events = parser.feed(
            b"%session-changed $1 x\n%begin 1 2 1\na\n%end 1 2 1\n%output %1 hi\\015\n\
              %begin 1 3 1\n%end 1 3 1\n%exit\n",
        );
        assert_eq!(events.len(), 5);
        assert_eq!(
            events[0],
            Event::Notification(Notification {
                name: "session-changed".into(),
                rest: b"$1 x".to_vec()
            })
        );
        assert!(matches!(&events[2], Event::Notification(n) if n.name == "output"));
        assert!(
            matches!(&events[4], Event::Notification(n) if n.name == "exit" && n.rest.is_empty())
        );
        assert_eq!(reply(&events).len(), 2);
    }

    #[test]
    fn guard_lines_with_another_number_are_data() {
        let mut parser = Parser::new();
        let text = b"%begin 5 7 1\n%end 5 8 1\n%error 5 7 0\n%end 6 7 1\n%begin 5 7 1\n%end 5 7 1 \n%end 5 7 1\n";
        let events = parser.feed(text);
        let replies = reply(&events);
        assert_eq!(replies.len(), 1);
        assert_eq!(
            replies[0].data,
            b"%end 5 8 1\n%error 5 7 0\n%end 6 7 1\n%begin 5 7 1\n%end 5 7 1 \n".to_vec()
        );
    }

    #[test]
    fn binary_bytes_pass_through() {
        let mut parser = Parser::new();
        let mut input = b"%begin 1 1 1\n".to_vec();
        input.extend_from_slice(&[0xff, 0x00, 0xfe, b'\r', 0x1b, b'[', b'm', b'\n']);
        input.extend_from_slice(b"%end 1 1 1\n");
        let events = parser.feed(&input);
        let replies = reply(&events);
        assert_eq!(
            replies[0].data,
            vec![0xff, 0x00, 0xfe, b'\r', 0x1b, b'[', b'm', b'\n']
        );
    }

    #[test]
    fn partial_reads_give_the_same_events() {
        let input: &[u8] = b"%exit x\n%begin 1 2 1\nline one\n%end 1 3 1\n%end 1 2 1\n%begin 1 4 1\n%error 1 4 1\n";
        let whole = Parser::new().feed(input);
        for size in 1..input.len() {
            let mut parser = Parser::new();
            let mut events = Vec::new();
            for chunk in input.chunks(size) {
                events.extend(parser.feed(chunk));
            }
            assert_eq!(events, whole, "chunk size {size}");
            assert!(parser.is_idle());
        }
        // A reply only appears once its closing line is complete.
        let mut parser = Parser::new();
        assert!(parser.feed(b"%begin 1 2 1\nx\n%end 1 2 1").is_empty());
        assert_eq!(parser.feed(b"\n").len(), 1);
    }

    #[test]
    fn malformed_guards_are_notifications_or_data() {
        let mut parser = Parser::new();
        let events = parser.feed(b"%begin\n%begin 1 2\n%begin a b c\n%begin 1 2 3 4\nplain\n");
        assert_eq!(events.len(), 5);
        assert!(parser.is_idle());
        assert!(
            matches!(&events[4], Event::Notification(n) if n.name.is_empty() && n.rest == b"plain")
        );
        // Numbers too large for u64 are not guards either.
        assert!(parse_guard(b"%begin 1 99999999999999999999999 1", b"%begin").is_none());
        // A CRLF guard still closes its block.
        let events = parser.feed(b"%begin 1 2 1\r\nx\n%end 1 2 1\r\n");
        assert_eq!(reply(&events).len(), 1);
    }

    mod fuzz {
        use super::super::*;
        use proptest::prelude::*;

        fn chunked(input: &[u8], cuts: &[usize]) -> Vec<Event> {
            let mut parser = Parser::new();
            let mut events = Vec::new();
            let mut start = 0;
            for &cut in cuts {
                let end = (start + cut).min(input.len());
                events.extend(parser.feed(&input[start..end]));
                start = end;
            }
            events.extend(parser.feed(&input[start..]));
            events
        }

        proptest! {
            #[test]
            fn any_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = Parser::new().feed(&input);
            }

            #[test]
            fn split_points_do_not_change_events(
                lines in proptest::collection::vec(
                    prop_oneof![
                        Just(b"%begin 1 2 1".to_vec()),
                        Just(b"%end 1 2 1".to_vec()),
                        Just(b"%error 1 2 1".to_vec()),
                        Just(b"%end 1 3 1".to_vec()),
                        Just(b"%output %1 x".to_vec()),
                        proptest::collection::vec(any::<u8>(), 0..20),
                    ],
                    0..30,
                ),
                cuts in proptest::collection::vec(0usize..40, 0..20),
            ) {
                let input = lines.join(&b'\n');
                let whole = Parser::new().feed(&input);
                prop_assert_eq!(chunked(&input, &cuts), whole);
            }
        }
    }
}
