//! Reading a file the user named (a saved screen, an adapter file), bounded:
//! only a regular file is read (a FIFO, a device such as `/dev/zero` or a
//! directory is refused from its metadata before any byte is read, and the
//! open is non-blocking, so a FIFO swapped in meanwhile cannot hang it), and
//! at most `max` bytes of it.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{Error, ErrorKind, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Longest saved screen `explain --screen` reads.
pub const MAX_SCREEN_BYTES: u64 = 4 * 1024 * 1024;
/// Longest adapter file loaded.
pub const MAX_ADAPTER_BYTES: u64 = 1024 * 1024;

fn refuse(message: String) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
}

fn regular(meta: &Metadata, max: u64) -> Result<(), Error> {
    let kind = meta.file_type();
    let what = if kind.is_file() {
        if meta.len() > max {
            return Err(refuse(format!(
                "file too large ({} bytes; at most {max})",
                meta.len()
            )));
        }
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(refuse(format!("not a regular file ({what})")))
}

/// The bytes of the regular file at `path` (symlinks followed), at most `max`.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    regular(&std::fs::metadata(path)?, max)?;
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)?;
    // Checked again on what was opened: the path may have changed since.
    let meta = file.metadata()?;
    regular(&meta, max)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(refuse(format!("file too large (more than {max} bytes)")));
    }
    Ok(bytes)
}

/// Like [`read_regular`], as UTF-8 text.
pub fn read_regular_text(path: &Path, max: u64) -> Result<String, Error> {
    String::from_utf8(read_regular(path, max)?)
        .map_err(|_| Error::new(ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}
