//! The control-mode wire: how commands are encoded for a `tmux -C` client.
//!
//! **Commands** are sent as one line per call, every argument double-quoted
//! with `\`, `"`, `$`, `~` and control bytes escaped, so `;`, `#`, `{`, `'`,
//! spaces and newlines arrive intact ([`quote`]). tmux replies with one
//! block per command and skips the rest of the line after a failing one.
//! Calls with `stdin` (`load-buffer -b NAME -`) become `set-buffer` commands in
//! 8 KB chunks (`set-buffer -a` appends); data with NUL bytes, or any other
//! use of stdin, goes by subprocess.

use crate::tmux::transport::TmuxArgs;

/// Size of one `set-buffer` chunk of stdin data.
pub const CHUNK_SIZE: usize = 8 * 1024;

/// One call, ready to write: the encoded line and how many replies it yields.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) line: Vec<u8>,
    pub(super) count: usize,
    /// The first command's name (what errors are reported against).
    pub(super) name: String,
    pub(super) kills_server: bool,
}

impl Request {
    /// `None` when the call cannot go over control mode (NUL bytes, or stdin
    /// used other than by `load-buffer -b NAME -`).
    pub(super) fn build(commands: &[TmuxArgs], stdin: Option<&[u8]>) -> Option<Request> {
        let mut expanded: Vec<Vec<Vec<u8>>> = Vec::new();
        for command in commands {
            let name = command.first().map(String::as_str).unwrap_or_default();
            if stdin.is_some() && (name == "load-buffer" || name == "source-file") {
                expanded.extend(set_buffer_commands(command, stdin?)?);
            } else {
                expanded.push(command.iter().map(|a| a.as_bytes().to_vec()).collect());
            }
        }
        Some(Request {
            line: encode_bytes(&expanded)?,
            count: expanded.len(),
            name: commands
                .first()
                .and_then(|c| c.first())
                .cloned()
                .unwrap_or_default(),
            kills_server: commands
                .iter()
                .any(|c| c.first().is_some_and(|n| n == "kill-server")),
        })
    }
}

/// `load-buffer -b NAME -` with `data` on stdin, as `set-buffer` commands of
/// at most [`CHUNK_SIZE`] bytes each. `None` for any other form.
fn set_buffer_commands(command: &[String], data: &[u8]) -> Option<Vec<Vec<Vec<u8>>>> {
    let argv: Vec<&str> = command.iter().map(String::as_str).collect();
    let ["load-buffer", "-b", name, "-"] = argv.as_slice() else {
        return None;
    };
    if data.contains(&0) {
        return None;
    }
    let name = name.as_bytes().to_vec();
    let mut chunks: Vec<&[u8]> = data.chunks(CHUNK_SIZE).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    Some(
        chunks
            .into_iter()
            .enumerate()
            .map(|(index, chunk)| {
                let mut argv = vec![b"set-buffer".to_vec()];
                if index > 0 {
                    argv.push(b"-a".to_vec());
                }
                argv.extend([b"-b".to_vec(), name.clone(), b"--".to_vec(), chunk.to_vec()]);
                argv
            })
            .collect(),
    )
}

/// Encodes commands as one control-mode line (without the newline), or
/// `None` if an argument contains a NUL byte (tmux strings cannot).
pub fn encode(commands: &[TmuxArgs]) -> Option<Vec<u8>> {
    let commands: Vec<Vec<Vec<u8>>> = commands
        .iter()
        .map(|c| c.iter().map(|a| a.as_bytes().to_vec()).collect())
        .collect();
    encode_bytes(&commands)
}

fn encode_bytes(commands: &[Vec<Vec<u8>>]) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    for (index, command) in commands.iter().enumerate() {
        if index > 0 {
            line.extend_from_slice(b" ; ");
        }
        for (position, arg) in command.iter().enumerate() {
            if position > 0 {
                line.push(b' ');
            }
            line.extend_from_slice(&quote(arg)?);
        }
    }
    Some(line)
}

/// Quotes one argument for tmux's command parser (config-file syntax): inside
/// double quotes, `\` `"` `$` `~` are escaped, `\n` `\r` `\t` use their
/// escapes and other control bytes (and 0xff, which tmux would read as end of
/// input) octal ones. Everything else, including UTF-8, is literal. `None` for
/// a NUL byte.
pub fn quote(arg: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(arg.len() + 2);
    out.push(b'"');
    for &byte in arg {
        match byte {
            0 => return None,
            b'\\' | b'"' | b'$' | b'~' => out.extend_from_slice(&[b'\\', byte]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x01..=0x1f | 0x7f | 0xff => {
                out.extend_from_slice(format!("\\{byte:03o}").as_bytes());
            }
            _ => out.push(byte),
        }
    }
    out.push(b'"');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Option<Vec<u8>>) -> String {
        String::from_utf8(bytes.expect("encodable")).expect("utf-8")
    }

    #[test]
    fn arguments_are_double_quoted_with_escapes() {
        assert_eq!(text(quote(b"plain")), r#""plain""#);
        assert_eq!(text(quote(b"a;b #{x} {y} 'q'")), r#""a;b #{x} {y} 'q'""#);
        assert_eq!(
            text(quote(br#"$HOME ~ "x" \n"#)),
            r#""\$HOME \~ \"x\" \\n""#
        );
        assert_eq!(
            text(quote(b"l1\nl2\r\t\x1b\x7f")),
            r#""l1\nl2\r\t\033\177""#
        );
        assert_eq!(text(quote("é".as_bytes())), "\"é\"");
        assert_eq!(text(quote(&[0xff])), r#""\377""#);
        assert!(quote(b"a\0b").is_none());
    }

    #[test]
    fn commands_are_joined_with_semicolons() {
        let line = encode(&[
            vec!["display-message".into(), "-p".into(), "x;".into()],
            vec!["list-sessions".into()],
        ]);
        assert_eq!(
            text(line),
            r#""display-message" "-p" "x;" ; "list-sessions""#
        );
    }

    #[test]
    fn load_buffer_from_stdin_becomes_chunked_set_buffer() {
        let commands = vec![
            vec!["load-buffer".into(), "-b".into(), "buf".into(), "-".into()],
            vec!["paste-buffer".into(), "-b".into(), "buf".into()],
        ];
        let data = vec![b'x'; CHUNK_SIZE * 2 + 1];
        let request = Request::build(&commands, Some(&data)).expect("translatable");
        assert_eq!(request.count, 4);
        assert_eq!(request.name, "load-buffer");
        let line = String::from_utf8(request.line).expect("utf-8");
        assert!(line.starts_with(r#""set-buffer" "-b" "buf" "--" "xxx"#));
        assert_eq!(line.matches(r#""set-buffer" "-a" "-b" "buf""#).count(), 2);

        let empty = Request::build(&commands, Some(b"")).expect("translatable");
        assert_eq!(empty.count, 2);
        // NUL bytes and unknown stdin readers go by subprocess.
        assert!(Request::build(&commands, Some(b"a\0b")).is_none());
        let other = vec![vec!["load-buffer".into(), "-".into()]];
        assert!(Request::build(&other, Some(b"x")).is_none());
        assert!(
            Request::build(&[vec!["kill-server".into()]], None).is_some_and(|r| r.kills_server)
        );
    }

    #[test]
    fn paste_text_commands_go_over_control_mode() {
        let commands = crate::tmux::paste_commands("b", "%1");
        let request = Request::build(&commands, Some(b"text")).expect("translatable");
        assert_eq!(request.count, 2);
    }
}
