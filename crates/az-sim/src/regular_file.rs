//! Reading the scenario file only when it is a small regular file: a FIFO
//! would block every `az` of the run, `/dev/zero` never ends, and files like
//! those in `/proc` report a size of 0, so the read itself is limited too.
//! Where the file may be (inside the project) is goldsmith's check, made
//! before the path reaches the simulator; the messages are goldsmith's own
//! for the files it reads.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Reads `path` if it is a regular file of at most `limit` bytes. The error
/// follows the file's name: "<file> is a FIFO, not a regular file".
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    check(&std::fs::metadata(path).map_err(unreadable)?, limit)?;
    // Non-blocking, so that a FIFO swapped in after the check cannot block the open.
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(unreadable)?;
    check(&file.metadata().map_err(unreadable)?, limit)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64, limit));
    }
    Ok(bytes)
}

fn check(meta: &std::fs::Metadata, limit: u64) -> Result<(), String> {
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
    } else if ft.is_fifo() {
        Some("a FIFO")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else if ft.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    };
    if let Some(kind) = kind {
        return Err(format!("is {kind}, not a regular file"));
    }
    if meta.len() > limit {
        return Err(too_large(meta.len(), limit));
    }
    Ok(())
}

fn too_large(size: u64, limit: u64) -> String {
    format!("is {size} bytes or more, larger than the {limit} byte limit")
}

fn unreadable(e: io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "does not exist (or is a broken symbolic link)".to_string(),
        _ => format!("cannot be read: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ok");
        std::fs::write(&file, "hi").unwrap();
        assert_eq!(read(&file, 10).unwrap(), b"hi");
        assert_eq!(
            read(&file, 1).unwrap_err(),
            "is 2 bytes or more, larger than the 1 byte limit"
        );
        assert_eq!(
            read(dir.path(), 10).unwrap_err(),
            "is a directory, not a regular file"
        );
        assert_eq!(
            read(&dir.path().join("missing"), 10).unwrap_err(),
            "does not exist (or is a broken symbolic link)"
        );
        assert_eq!(
            read(Path::new("/dev/zero"), 10).unwrap_err(),
            "is a character device, not a regular file"
        );
    }
}
