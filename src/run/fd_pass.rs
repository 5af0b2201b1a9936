//! Descriptors handed to a just-spawned supervisor over a socket (`SCM_RIGHTS`).
//!
//! Why: the coordinator used to place the supervisor's descriptors (lifeline,
//! run lock, status pipe, sealed script) with a pre-exec hook, and a hook
//! makes std fork the coordinator. A fork copies the page tables of the whole
//! coordinator, whose memory grows with the number of operations, and the
//! child throws the copy away at exec: with 10,000 operations that was most
//! of the run's CPU time, and the cost of a run grew with the square of its
//! operations. Without a hook std spawns with `posix_spawn` (a vfork, no
//! copy), and the descriptors follow over the supervisor's stdin.

use std::io::{Error, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// The most descriptors one message carries: the supervisor's three, and a
/// managed run-command's script and protected values.
pub const MAX_FDS: usize = 64;

/// Sends `data` with copies of `fds` in one message.
pub fn send(socket: &UnixStream, data: &[u8], fds: &[RawFd]) -> Result<()> {
    if fds.len() > MAX_FDS || data.is_empty() {
        return Err(Error::other(format!(
            "cannot hand over {} descriptors (at most {MAX_FDS})",
            fds.len()
        )));
    }
    let fd_bytes = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: a zeroed msghdr is valid; every pointer set below points into
    // `iov`, `control` and `fds`, which outlive the sendmsg call.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !fds.is_empty() {
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr().cast::<u8>(),
                libc::CMSG_DATA(cmsg),
                fd_bytes as usize,
            );
        }
        if libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) < 0 {
            return Err(Error::last_os_error());
        }
    }
    Ok(())
}

/// Receives one message from `socket`: its data (empty at end of file) and
/// its descriptors, close-on-exec.
pub fn recv(socket: RawFd) -> Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut data = vec![0u8; 256];
    let fd_bytes = (MAX_FDS * std::mem::size_of::<RawFd>()) as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut fds = Vec::new();
    // SAFETY: as in `send`; the kernel writes at most the lengths given, and
    // every descriptor it passed is taken into an OwnedFd exactly once.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let n = loop {
            let n = libc::recvmsg(socket, &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 || Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break n;
            }
        };
        if n < 0 {
            return Err(Error::last_os_error());
        }
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let first = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for k in 0..bytes / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(first.add(k).read_unaligned()));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            return Err(Error::other("descriptors were cut off"));
        }
        data.truncate(n as usize);
    }
    Ok((data, fds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn descriptors_arrive_as_working_copies() {
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        let (read, mut write) = std::io::pipe().expect("pipe");
        send(&ours, b"hello", &[read.as_raw_fd()]).expect("send");
        drop(read);
        let (data, fds) = recv(theirs.as_raw_fd()).expect("recv");
        assert_eq!(data, b"hello");
        assert_eq!(fds.len(), 1);
        write.write_all(b"through").expect("write");
        drop(write);
        let mut got = String::new();
        std::fs::File::from(fds.into_iter().next().expect("fd"))
            .read_to_string(&mut got)
            .expect("read");
        assert_eq!(got, "through");
        drop(ours);
        let (data, fds) = recv(theirs.as_raw_fd()).expect("recv at end");
        assert!(data.is_empty() && fds.is_empty());
    }
}
