//! A script held in sealed memory, passed to its process as `/dev/fd/<n>`.
//!
//! Operations run as the same user as goldsmith and can write into the run
//! directory, so a script file there could be rewritten by an earlier
//! operation before a later one runs it. A sealed memfd cannot be changed by
//! anyone once written, and the script that runs is exactly the one planned.
//! It also keeps a script that holds secret values off the disk.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

/// The lowest descriptor number a sealed script takes.
const FIRST_FD: RawFd = 10;

pub struct SealedScript {
    file: File,
}

impl SealedScript {
    /// Copies `text` into a new memfd and seals it against every change.
    pub fn new(name: &str, text: &[u8]) -> std::io::Result<SealedScript> {
        let name = CString::new(name.replace('\0', "_")).map_err(std::io::Error::other)?;
        // SAFETY: `name` is a valid C string; the fd returned is owned by `file` below.
        let fd = unsafe {
            libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by memfd_create and nothing else owns it.
        let low = unsafe { File::from_raw_fd(fd) };
        // Above the low numbers a spawner may place its own descriptors on in the child
        // (the supervisor's 3–5), so the script's number survives until exec.
        // SAFETY: fcntl on an fd we own; the new fd is owned by `file` below.
        let high = unsafe { libc::fcntl(low.as_raw_fd(), libc::F_DUPFD_CLOEXEC, FIRST_FD) };
        if high < 0 {
            return Err(std::io::Error::last_os_error());
        }
        drop(low);
        // SAFETY: `high` was just returned by fcntl and nothing else owns it.
        let mut file = unsafe { File::from_raw_fd(high) };
        file.write_all(text)?;
        let seals =
            libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        // SAFETY: fcntl on an fd we own, with a plain integer argument.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(SealedScript { file })
    }

    /// The fd the child inherits (it is close-on-exec everywhere else).
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// The path the child opens the script by.
    pub fn path(&self) -> String {
        format!("/dev/fd/{}", self.fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_script_reads_back_and_cannot_be_changed() {
        let s = SealedScript::new("op.sh", b"echo planned\n").expect("memfd");
        let path = format!("/proc/self/fd/{}", s.fd());
        assert_eq!(std::fs::read(&path).expect("read"), b"echo planned\n");
        assert!(s.fd() >= FIRST_FD);
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"echo evil\n"))
            .expect_err("sealed against writes");
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
        assert_eq!(std::fs::read(&path).expect("read"), b"echo planned\n");
    }
}
