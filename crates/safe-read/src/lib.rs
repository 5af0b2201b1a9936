//! Reading the files a project names, without leaving the project.
//!
//! Catalog files, the config, `powershell.file` and scenario files are
//! resolved (symlinks included) and must stay under the project root; they
//! must be regular files (a FIFO blocks the reader, `/dev/zero` never ends);
//! their size is checked from metadata before reading, and the read itself is
//! limited, since files like those in `/proc` report a size of 0.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why a file was not read. Messages follow the file's name: "<file> is a FIFO, …".
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("does not exist (or is a broken symbolic link)")]
    NotFound,
    #[error("resolves to {}, outside the project root", .0.display())]
    Outside(PathBuf),
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("is {size} bytes or more, larger than the {limit} byte limit")]
    TooLarge { size: u64, limit: u64 },
    #[error("cannot be read: {0}")]
    Io(#[source] io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound => ReadError::NotFound,
            _ => ReadError::Io(e),
        }
    }
}

/// `path` with every symlink resolved, if it lies under `root` (also resolved).
pub fn resolve_inside(root: &Path, path: &Path) -> Result<PathBuf, ReadError> {
    let root = std::fs::canonicalize(root)?;
    let resolved = std::fs::canonicalize(path)?;
    if resolved.starts_with(&root) {
        Ok(resolved)
    } else {
        Err(ReadError::Outside(resolved))
    }
}

/// Reads `path`, resolved under `root`, as a regular file of at most `limit` bytes.
pub fn read_inside(root: &Path, path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let resolved = resolve_inside(root, path)?;
    read_regular(&resolved, limit)
}

/// Reads a regular file of at most `limit` bytes; anything else is refused before reading.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    check(&std::fs::metadata(path)?, limit)?;
    // Non-blocking, so that a FIFO swapped in after the check cannot block the open.
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    check(&file.metadata()?, limit)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

fn check(meta: &std::fs::Metadata, limit: u64) -> Result<(), ReadError> {
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
        return Err(ReadError::NotRegular(kind));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_small_regular_file_inside_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::write(root.join("ok"), "hi").expect("write");
        assert_eq!(
            read_inside(root, &root.join("ok"), 10).expect("reads"),
            b"hi"
        );
        assert!(matches!(
            read_inside(root, &root.join("ok"), 1),
            Err(ReadError::TooLarge { size: 2, limit: 1 })
        ));
        std::os::unix::fs::symlink("/etc/hostname", root.join("out")).expect("symlink");
        assert!(matches!(
            read_inside(root, &root.join("out"), 10),
            Err(ReadError::Outside(_))
        ));
        assert!(matches!(
            read_regular(Path::new("/dev/zero"), 10),
            Err(ReadError::NotRegular("a character device"))
        ));
        assert!(matches!(
            read_regular(Path::new("/proc/self/status"), 10),
            Err(ReadError::TooLarge { size: 11, .. })
        ));
        assert!(matches!(
            read_inside(root, &root.join("missing"), 10),
            Err(ReadError::NotFound)
        ));
    }
}
