//! Output that reaches the screen as it arrives: standard output behind a
//! buffer the caller flushes, and how many bytes wait in a socket, so that
//! the caller flushes when the receive queue is drained: not per line (a
//! `write()` per message would double the system calls of a fast stream)
//! and not only at the end (a line must show when it comes).
//!
//! Users: part4_receiver, secure_cmd's client, and the PMU clients' `pdc`
//! crate (parts 2, 5 and 6).

use std::fs::File;
use std::io::{self, BufWriter};
#[cfg(unix)]
use std::os::fd::AsFd;
#[cfg(windows)]
use std::os::windows::io::{AsHandle, AsSocket};

/// Buffered output that the caller flushes; larger writes go straight
/// through.
pub const OUTPUT_BUFFER: usize = 64 * 1024;

/// Standard output without Rust's line buffering: a private duplicate of
/// file descriptor 1 behind a buffer the caller flushes.
#[cfg(unix)]
pub fn stdout() -> io::Result<BufWriter<File>> {
    let fd = io::stdout().as_fd().try_clone_to_owned()?;
    Ok(BufWriter::with_capacity(OUTPUT_BUFFER, File::from(fd)))
}

/// Standard output (a duplicate of its handle) behind a buffer the caller
/// flushes.
#[cfg(windows)]
pub fn stdout() -> io::Result<BufWriter<File>> {
    let handle = io::stdout().as_handle().try_clone_to_owned()?;
    Ok(BufWriter::with_capacity(OUTPUT_BUFFER, File::from(handle)))
}

/// Bytes waiting in a socket's receive queue (`FIONREAD`, `man 7 tcp`'s
/// `SIOCINQ`).
#[cfg(unix)]
pub fn bytes_waiting(socket: &impl AsFd) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD stores one c_int through the pointer, which points to
    // a live c_int; the descriptor is borrowed, so it is open.
    let rc = unsafe { libc::ioctl(socket.as_fd().as_raw_fd(), libc::FIONREAD, &mut waiting) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(waiting).unwrap_or(0))
}

/// Bytes waiting in a socket's receive queue (Winsock's
/// `ioctlsocket(FIONREAD)`).
#[cfg(windows)]
pub fn bytes_waiting(socket: &impl AsSocket) -> io::Result<usize> {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{FIONREAD, SOCKET, ioctlsocket};
    let mut waiting: u32 = 0;
    // SAFETY: FIONREAD stores one u32 through the pointer, which points to a
    // live u32; the socket is borrowed, so it is open.
    let rc = unsafe {
        ioctlsocket(
            socket.as_socket().as_raw_socket() as SOCKET,
            FIONREAD,
            &mut waiting,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(waiting as usize)
}
