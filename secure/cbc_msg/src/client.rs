//! The sending side: one message, one frame, one connection.

use crate::frame::{self, SealError};
use crate::key::Keys;
use anyhow::{Context, bail};
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// What the client shows on stderr before it reads the message from a
/// terminal.
pub const PROMPT: &str = "message: ";

/// Where to send, and how long to wait: the command line's `client` options.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The server (a name, an IPv4 or an IPv6 address)
    pub host: String,
    /// The server's port
    #[arg(value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Seconds to wait for the connection and for each write
    // For the TCP handshake, and for each write (`SO_SNDTIMEO`) so that a
    // server that stops reading cannot hang the client.
    #[arg(long, default_value = "10", value_parser = common::cli::seconds, value_name = "SECS")]
    pub timeout: Duration,
}

/// Seals `text`, connects and sends the frame; the address it went to and
/// the frame's size. A text over the cap is a usage error (exit 2), found
/// before connecting.
pub fn send(options: &Options, keys: &Keys, text: &str) -> anyhow::Result<(SocketAddr, usize)> {
    let frame = frame::seal(keys, text.as_bytes()).map_err(|err| match err {
        SealError::TooLarge(too_large) => common::cli::usage(too_large.to_string()),
        SealError::Random(err) => anyhow::Error::new(err).context("making the IV"),
    })?;
    let mut stream = connect(options)?;
    let peer = stream.peer_addr().context("reading the server's address")?;
    stream
        .set_write_timeout(Some(options.timeout))
        .context("setting SO_SNDTIMEO")?;
    stream
        .write_all(&frame)
        .with_context(|| format!("sending the message to {peer}"))?;
    // FIN after the frame: the server reads it, then sees a clean end.
    stream
        .shutdown(Shutdown::Write)
        .with_context(|| format!("closing the connection to {peer}"))?;
    Ok((peer, frame.len()))
}

/// A connection to the first of the host's addresses that accepts.
fn connect(options: &Options) -> anyhow::Result<TcpStream> {
    let addrs = common::resolve(&options.host, options.port)?;
    let mut failures = Vec::new();
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, options.timeout) {
            Ok(stream) => return Ok(stream),
            Err(err) => failures.push(format!("{addr}: {err}")),
        }
    }
    bail!(
        "connecting to {} port {}: {}; is 'cbc_msg server {}' running there?",
        options.host,
        options.port,
        failures.join("; "),
        options.port
    )
}

/// One line from `input` for the message, after `prompt` (if any) on
/// `prompt_to`; the line ending (LF or CRLF) is not part of it.
///
/// At most [`frame::MAX_TEXT`] bytes are read: a longer line is a usage
/// error, not an unbounded buffer.
pub fn prompt_line(
    input: &mut impl BufRead,
    prompt_to: &mut impl Write,
    prompt: Option<&str>,
) -> anyhow::Result<String> {
    if let Some(prompt) = prompt {
        // A failed prompt (stderr closed) does not stop the read.
        let _ = write!(prompt_to, "{prompt}").and_then(|()| prompt_to.flush());
    }
    let mut line = Vec::new();
    let limit = frame::MAX_TEXT as u64 + 2;
    input
        .take(limit)
        .read_until(b'\n', &mut line)
        .context("reading the message from standard input")?;
    if line.is_empty() {
        if prompt.is_some() {
            // Ctrl-D at the prompt: the error goes on a line of its own.
            let _ = writeln!(prompt_to);
        }
        return Err(common::cli::usage(
            "no message: standard input ended before a line; give one, or use --message TEXT",
        ));
    }
    let ended = line.last() == Some(&b'\n');
    if ended {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    if line.len() > frame::MAX_TEXT {
        return Err(common::cli::usage(format!(
            "the line on standard input is longer than the {} bytes one message holds",
            frame::MAX_TEXT
        )));
    }
    String::from_utf8(line).map_err(|_| {
        common::cli::usage("the message on standard input is not UTF-8 text".to_string())
    })
}

/// What `cbc_msg client` runs: the message from `--message` or a prompt,
/// sent, and a note on stderr.
pub fn run(options: &Options, keys: &Keys, message: Option<String>) -> anyhow::Result<()> {
    let text = match message {
        Some(text) => text,
        None => {
            // A prompt is for a person: not shown when the line comes
            // from a pipe or a file, where it would only clutter stderr.
            let stdin = io::stdin();
            let prompt = stdin.is_terminal().then_some(PROMPT);
            prompt_line(&mut stdin.lock(), &mut io::stderr(), prompt)?
        }
    };
    let (peer, bytes) = send(options, keys, &text)?;
    crate::say!(
        "cbc_msg: sent {} bytes of text as a {bytes}-byte frame to {}",
        text.len(),
        common::addr::unmapped(peer)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(input: &[u8]) -> anyhow::Result<String> {
        let mut shown = Vec::new();
        let line = prompt_line(&mut &input[..], &mut shown, Some(PROMPT));
        let expected = if input.is_empty() {
            "message: \n"
        } else {
            "message: "
        };
        assert_eq!(String::from_utf8(shown).unwrap(), expected);
        line
    }

    #[test]
    fn no_prompt_when_not_asked() {
        let mut shown = Vec::new();
        let line = prompt_line(&mut &b"piped\n"[..], &mut shown, None).unwrap();
        assert_eq!(line, "piped");
        assert!(shown.is_empty());
    }

    #[test]
    fn one_line_without_its_ending() {
        assert_eq!(prompt(b"hello\nworld\n").unwrap(), "hello");
        assert_eq!(prompt(b"crlf\r\n").unwrap(), "crlf");
        assert_eq!(prompt(b"no newline").unwrap(), "no newline");
        assert_eq!(prompt(b"\n").unwrap(), "");
    }

    #[test]
    fn nothing_or_junk_is_a_usage_error() {
        for input in [&b""[..], b"\xff\xfe\n"] {
            let err = prompt(input).unwrap_err();
            assert!(
                err.chain().any(|c| c.is::<common::cli::UsageError>()),
                "{err:#}"
            );
        }
    }

    #[test]
    fn a_line_over_the_cap_is_refused() {
        let mut long = vec![b'a'; frame::MAX_TEXT + 10];
        long.push(b'\n');
        let err = prompt(&long).unwrap_err();
        assert!(format!("{err:#}").contains("1048527 bytes"), "{err:#}");
        let mut fits = vec![b'a'; frame::MAX_TEXT];
        fits.push(b'\n');
        assert_eq!(prompt(&fits).unwrap().len(), frame::MAX_TEXT);
    }
}
