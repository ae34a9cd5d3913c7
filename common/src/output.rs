//! How a PMU client prints what it receives (Parts 2, 5 and 6; SPEC.md,
//! "Client output"), and when it flushes.
//!
//! - `CMD_short`: each message on its own line, exactly as sent.
//! - `CMD_floodme`: the bytes exactly, plus one final newline if the text
//!   does not end with one; streamed, so memory does not depend on the size.
//! - Output reaches the screen as it arrives: the caller flushes whenever
//!   the receive queue is empty ([`bytes_waiting`]), not per line (a
//!   `write()` per message would double the system calls of a fast stream)
//!   and not only at the end (a `CMD_short:1` line must show when it comes).

use crate::command::Command;
use crate::splitter::PmuSplitter;
use std::fs::File;
use std::io::{self, BufWriter, Write};
#[cfg(unix)]
use std::os::fd::AsFd;
#[cfg(windows)]
use std::os::windows::io::{AsHandle, AsSocket};

/// Buffered output that the caller flushes; larger writes go straight
/// through.
const OUTPUT_BUFFER: usize = 64 * 1024;

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

/// Prints the answer to one command from the byte stream that carries it.
#[derive(Debug)]
pub struct PmuPrinter {
    mode: Mode,
    bytes: u64,
    messages: u64,
}

#[derive(Debug)]
enum Mode {
    Short(PmuSplitter),
    Flood { last: Option<u8> },
}

impl PmuPrinter {
    /// A printer for the answer to `command`.
    pub fn new(command: &Command) -> PmuPrinter {
        let mode = match command {
            Command::Short { .. } => Mode::Short(PmuSplitter::new()),
            Command::Floodme => Mode::Flood { last: None },
        };
        PmuPrinter {
            mode,
            bytes: 0,
            messages: 0,
        }
    }

    /// Prints what `data` completes.
    pub fn feed(&mut self, data: &[u8], out: &mut impl Write) -> io::Result<()> {
        self.bytes += data.len() as u64;
        match &mut self.mode {
            Mode::Short(splitter) => {
                let messages = &mut self.messages;
                splitter.feed(data, |message| {
                    *messages += 1;
                    write_line(out, message)
                })
            }
            Mode::Flood { last } => {
                if let Some(&b) = data.last() {
                    *last = Some(b);
                    self.messages = 1;
                }
                out.write_all(data)
            }
        }
    }

    /// Prints what is left once the server has closed.
    pub fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        match &mut self.mode {
            Mode::Short(splitter) => {
                let messages = &mut self.messages;
                splitter.finish(|message| {
                    *messages += 1;
                    write_line(out, message)
                })
            }
            Mode::Flood { last: Some(b) } if *b != b'\n' => out.write_all(b"\n"),
            Mode::Flood { .. } => Ok(()),
        }
    }

    /// Bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Messages printed so far (a flood counts as one).
    pub fn messages(&self) -> u64 {
        self.messages
    }
}

fn write_line(out: &mut impl Write, message: &[u8]) -> io::Result<()> {
    out.write_all(message)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(command: &str, chunks: &[&[u8]]) -> Vec<u8> {
        let mut printer = PmuPrinter::new(&command.parse().unwrap());
        let mut out = Vec::new();
        for chunk in chunks {
            printer.feed(chunk, &mut out).unwrap();
        }
        printer.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn short_prints_a_line_per_message() {
        assert_eq!(
            print(
                "CMD_short:0",
                &[b"This is PMU data 0This is", b" PMU data 1"]
            ),
            b"This is PMU data 0\nThis is PMU data 1\n"
        );
    }

    #[test]
    fn flood_adds_only_a_missing_final_newline() {
        assert_eq!(print("CMD_floodme", &[b"ab", b"c"]), b"abc\n");
        assert_eq!(print("CMD_floodme", &[b"abc\n"]), b"abc\n");
        assert_eq!(print("CMD_floodme", &[b"abc\n", b""]), b"abc\n");
        assert_eq!(print("CMD_floodme", &[]), b"");
    }
}
