//! A `CMD_floodme` moved with `splice(2)` (Linux): socket → pipe → output,
//! the bytes never copied through this process. Used by `crate::receive`
//! for part2_pdc's floods when standard output is not a terminal (a pipe,
//! a file, `/dev/null`); everywhere else the ordinary receive loop runs.
//!
//! The output rule needs the flood's last byte (one newline is added if
//! the text does not end with one), and spliced bytes are never seen. So
//! each round moves all but one byte of the pipe to the output: the pipe
//! always keeps the last byte received, and when the server closes, that
//! one byte is read, and written with the newline if it is not one. The
//! system calls per receive stay two (`splice` in, `splice` out).
//!
//! `--stats` counts what `splice` moved from the socket: the calls that
//! returned data, and their bytes.
//!
//! When the output refuses `splice` (`EINVAL`: a file opened with
//! `O_APPEND` is checked for beforehand, a file system without splice
//! support is found out at the first move), the bytes already in the pipe
//! are read and written as usual, and so is the rest.
//!
//! This is the crate's one module of `splice`-related `unsafe` code: four
//! calls into libc (`pipe2`, `fcntl` twice, `splice`), each on descriptors
//! that are open for the whole call (owned or borrowed), with no pointer
//! but the `pipe2` array and null offsets.

use crate::receive::Stats;
use std::fs::File;
use std::io::{self, ErrorKind, IsTerminal, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// The pipe's size asked for: a few receives' worth. Linux allows up to
/// `/proc/sys/fs/pipe-max-size` (1 MiB by default) without privilege; if
/// the request fails, the default 64 KiB pipe serves as well.
const PIPE_SIZE: libc::c_int = 1 << 20;

/// What failed: receiving (the caller words it as a receive error) or
/// writing to the output.
#[derive(Debug)]
pub enum Failed {
    Receive(io::Error),
    Write(io::Error),
}

/// Whether to try `splice` into `out`: not a terminal (where the ordinary
/// loop is as fast as a reader can look) and not in append mode (which
/// `splice` refuses).
pub fn worth_trying(out: &File) -> bool {
    !out.is_terminal() && !appends(out)
}

/// Moves the flood from `stream` to `out`, each receive asking for
/// `bufsize` bytes. `Ok(None)`: `splice` cannot be used here and nothing
/// was received; the caller runs the ordinary loop.
pub(crate) fn flood(
    stream: &TcpStream,
    mut out: &File,
    bufsize: usize,
) -> Result<Option<Stats>, Failed> {
    let Ok(mut pipe) = Pipe::new() else {
        return Ok(None);
    };
    let mut stats = Stats::default();
    // Bytes in the pipe: 0 before the first receive, then 1.
    let mut held = 0usize;
    loop {
        let n = match splice(stream.as_fd(), pipe.write.as_fd(), bufsize.max(1)) {
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) if err.raw_os_error() == Some(libc::EINVAL) && stats.recv_calls == 0 => {
                return Ok(None);
            }
            Err(err) => {
                // What had come is printed before the error, as the
                // ordinary loop does.
                let _ = pipe.move_out(out, held);
                return Err(Failed::Receive(err));
            }
        };
        if n == 0 {
            break;
        }
        stats.recv_calls += 1;
        stats.bytes += n as u64;
        held += n;
        pipe.move_out(out, held - 1).map_err(Failed::Write)?;
        held = 1;
    }
    if held == 1 {
        let mut last = [0u8; 1];
        pipe.read.read_exact(&mut last).map_err(Failed::Write)?;
        let end: &[u8] = if last[0] == b'\n' {
            &last
        } else {
            &[last[0], b'\n']
        };
        out.write_all(end).map_err(Failed::Write)?;
        stats.messages = 1;
    }
    Ok(Some(stats))
}

/// Moves a known number of a socket's bytes to the output: a binary
/// WebSocket frame's payload, whose length its header gave (part5_ws,
/// through `Source::move_direct`). Unlike [`flood`], nothing is kept in
/// the pipe: the caller leaves each frame's last byte to the ordinary
/// loop, which so sees the message's last byte for the newline rule.
#[derive(Debug)]
pub struct Mover {
    pipe: Pipe,
    /// Socket reads that moved data.
    pub calls: u64,
}

impl Mover {
    /// `None` when no pipe can be had.
    pub fn new() -> Option<Mover> {
        Some(Mover {
            pipe: Pipe::new().ok()?,
            calls: 0,
        })
    }

    /// Moves up to `len` bytes from `from` to `out`, [`MOVE_CHUNK`] bytes
    /// a receive at most; returns how many moved, fewer only when the
    /// socket ended. `Ok(0)` at once when the socket refuses `splice`.
    pub fn transfer(&mut self, from: BorrowedFd<'_>, out: &File, len: u64) -> Result<u64, Failed> {
        let mut moved = 0;
        while moved < len {
            let want = usize::try_from(len - moved)
                .unwrap_or(MOVE_CHUNK)
                .min(MOVE_CHUNK);
            let n = match splice(from, self.pipe.write.as_fd(), want) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) if err.raw_os_error() == Some(libc::EINVAL) && moved == 0 => break,
                Err(err) => return Err(Failed::Receive(err)),
            };
            self.calls += 1;
            moved += n as u64;
            self.pipe.move_out(out, n).map_err(Failed::Write)?;
        }
        Ok(moved)
    }
}

/// What [`Mover::transfer`] asks of each receive: as part2_pdc's default
/// `recv()` size, which measured fastest.
const MOVE_CHUNK: usize = 64 * 1024;

/// A pipe between the socket and the output.
#[derive(Debug)]
struct Pipe {
    read: File,
    write: OwnedFd,
    /// Set once the output has refused `splice`: the buffer to copy with.
    copy: Option<Vec<u8>>,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds: [libc::c_int; 2] = [-1, -1];
        // SAFETY: pipe2 writes two descriptors into the two-element array
        // it is given, and nothing else.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and belong to no one
        // else; each is owned once.
        let (read, write) = unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: F_SETPIPE_SZ on an open pipe takes an int and changes
        // only the pipe's capacity; a refusal leaves the default size.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
        Ok(Pipe {
            read,
            write,
            copy: None,
        })
    }

    /// Moves `len` bytes from the pipe to `out`.
    fn move_out(&mut self, mut out: &File, mut len: usize) -> io::Result<()> {
        while len > 0 {
            if let Some(buf) = &mut self.copy {
                let want = len.min(buf.len());
                self.read.read_exact(&mut buf[..want])?;
                out.write_all(&buf[..want])?;
                len -= want;
                continue;
            }
            match splice(self.read.as_fd(), out.as_fd(), len) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => len -= n,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {
                    self.copy = Some(vec![0; 64 * 1024]);
                }
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }
}

/// `splice(2)` of up to `len` bytes from `from` to `to` at their own
/// positions; blocks as the descriptors do (the socket's `SO_RCVTIMEO`
/// applies).
fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    // SAFETY: both descriptors are borrowed, so open for the call; null
    // offsets make the kernel use (and advance) their own positions, and no
    // other memory is passed.
    let n = unsafe {
        libc::splice(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Whether `file` was opened with `O_APPEND` (`>>` in a shell).
fn appends(file: &File) -> bool {
    // SAFETY: F_GETFL reads the status flags of an open descriptor (the
    // file is borrowed) and touches no memory.
    let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
    flags >= 0 && flags & libc::O_APPEND != 0
}
