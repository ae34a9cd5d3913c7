//! The secure_cmd protocol, one layer above TLS (docs/SPEC.md, "Secure command
//! service"): a greeting, then one answer per request line.
//!
//! ```text
//! server: TIME 2026-05-01T14:03:07.123+02:00\n       once, on connect
//! client: echo hello\n                                a request line
//! server: OK 0 6\nhello\n                             exit status, length, output
//! client: id\n
//! server: ERR not an allowed command (allowed: …)\n   and the connection goes on
//! ```
//!
//! Everything here works on bytes and `BufRead`, without a socket, so that
//! tests (and a fuzz target) can drive the parsers with anything.
//!
//! - A request is one line of at most [`MAX_REQUEST_LINE`] bytes, UTF-8,
//!   split on ASCII white space into a program and its arguments; nothing
//!   else is interpreted (no quotes, no `$`, no `;`): the words go to
//!   `execvp` as they are.
//! - Every request line gets exactly one answer, even a bad one, so that
//!   client and server never lose step: `OK <status> <length>\n` and
//!   `<length>` bytes, or `ERR <reason>\n`.

use chrono::{DateTime, FixedOffset, Local, SecondsFormat};
use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead};

/// The port of the service (docs/SPEC.md).
pub const DEFAULT_PORT: u16 = 15001;

/// The longest request line, without its `\n`: far more than a command
/// typed by hand, and what bounds the memory a client's line costs.
pub const MAX_REQUEST_LINE: usize = 4096;

/// The longest greeting or answer header a client reads, without its `\n`
/// (an `ERR` reason is short; this only stops a hostile server from
/// growing a line for ever).
pub const MAX_HEADER_LINE: usize = 8192;

/// One request: the program, looked up on the server's PATH, and its
/// arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub program: String,
    pub args: Vec<String>,
}

impl fmt::Display for Request {
    /// The words joined by one space, control characters escaped: how the
    /// request is quoted in a log line or an error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&printable(&self.program))?;
        for arg in &self.args {
            write!(f, " {}", printable(arg))?;
        }
        Ok(())
    }
}

/// Why a request line is refused before any allow-list is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadRequest {
    /// Over [`MAX_REQUEST_LINE`] bytes.
    TooLong,
    /// Not UTF-8: arguments are text, and a log must be able to show them.
    NotUtf8,
    /// Nothing but white space.
    Empty,
    /// A NUL byte, which no argument of `execve` can hold.
    NulByte,
}

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRequest::TooLong => write!(f, "request line longer than {MAX_REQUEST_LINE} bytes"),
            BadRequest::NotUtf8 => f.write_str("request is not UTF-8"),
            BadRequest::Empty => f.write_str("empty request"),
            BadRequest::NulByte => f.write_str("request contains a NUL byte"),
        }
    }
}

impl std::error::Error for BadRequest {}

/// Parses one request line (without its `\n`; a `\r` before it is white
/// space like any other).
pub fn parse_request(line: &[u8]) -> Result<Request, BadRequest> {
    if line.len() > MAX_REQUEST_LINE {
        return Err(BadRequest::TooLong);
    }
    let text = std::str::from_utf8(line).map_err(|_| BadRequest::NotUtf8)?;
    if text.contains('\0') {
        return Err(BadRequest::NulByte);
    }
    // ASCII white space only (space, tab, CR, LF, FF): what a person types
    // between words. A no-break space inside a word stays in it.
    let mut words = text.split_ascii_whitespace().map(str::to_string);
    let program = words.next().ok_or(BadRequest::Empty)?;
    Ok(Request {
        program,
        args: words.collect(),
    })
}

/// What [`read_line`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineRead {
    /// A whole line, without its `\n`.
    Line(Vec<u8>),
    /// A line over the cap: read to its `\n` and dropped, so that the next
    /// line starts in step.
    TooLong,
    /// The stream ended. `partial` holds a last line that had no `\n`
    /// (empty if there was none; a partial line over the cap is reported
    /// as [`LineRead::TooLong`] first). The server drops it: a request is
    /// a request once its line is whole. The client's stdin sends it.
    End { partial: Vec<u8> },
}

/// Reads one `\n`-terminated line of at most `cap` bytes. Memory stays
/// under `cap` whatever the peer sends: a longer line is skipped, not
/// stored.
pub fn read_line(reader: &mut impl BufRead, cap: usize) -> io::Result<LineRead> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if chunk.is_empty() {
            return Ok(if too_long {
                LineRead::TooLong
            } else {
                LineRead::End { partial: line }
            });
        }
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], i + 1),
            None => (chunk, chunk.len()),
        };
        let complete = done > part.len();
        if !too_long {
            if line.len() + part.len() > cap {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(part);
            }
        }
        reader.consume(done);
        if complete {
            return Ok(if too_long {
                LineRead::TooLong
            } else {
                LineRead::Line(line)
            });
        }
    }
}

/// The greeting, `TIME <RFC 3339 local time>\n`, with milliseconds and the
/// UTC offset (`2026-05-01T14:03:07.123+02:00`).
pub fn greeting(now: DateTime<Local>) -> String {
    format!(
        "TIME {}\n",
        now.to_rfc3339_opts(SecondsFormat::Millis, false)
    )
}

/// What the server sent where a greeting or an answer header belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// What was expected.
    pub expected: &'static str,
    /// The line, shortened and escaped for an error message.
    pub got: String,
}

impl Malformed {
    fn new(expected: &'static str, line: &[u8]) -> Malformed {
        let shown = &line[..line.len().min(60)];
        let mut got = printable(&String::from_utf8_lossy(shown)).into_owned();
        if line.len() > shown.len() {
            got.push('…');
        }
        Malformed { expected, got }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, got '{}'", self.expected, self.got)
    }
}

impl std::error::Error for Malformed {}

/// Parses the greeting line (without its `\n`).
pub fn parse_greeting(line: &[u8]) -> Result<DateTime<FixedOffset>, Malformed> {
    let malformed = || Malformed::new("the greeting 'TIME <RFC 3339 time>'", line);
    let text = std::str::from_utf8(line).map_err(|_| malformed())?;
    let time = text.strip_prefix("TIME ").ok_or_else(malformed)?;
    DateTime::parse_from_rfc3339(time.trim_end_matches('\r')).map_err(|_| malformed())
}

/// The first line of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    /// The command ran: its exit status (128 + n for a signal n), and the
    /// number of output bytes that follow.
    Ok { status: u8, length: u64 },
    /// The command was refused or failed; the connection goes on.
    Err(String),
}

impl fmt::Display for Header {
    /// The header as sent, with its `\n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Header::Ok { status, length } => writeln!(f, "OK {status} {length}"),
            Header::Err(reason) => writeln!(f, "ERR {}", printable(reason)),
        }
    }
}

/// Parses an answer's first line (without its `\n`): `OK <status>
/// <length>` in plain decimal, or `ERR <reason>`.
pub fn parse_header(line: &[u8]) -> Result<Header, Malformed> {
    let malformed = || Malformed::new("'OK <status> <length>' or 'ERR <reason>'", line);
    let text = std::str::from_utf8(line).map_err(|_| malformed())?;
    let text = text.strip_suffix('\r').unwrap_or(text);
    if let Some(reason) = text.strip_prefix("ERR ") {
        return Ok(Header::Err(reason.to_string()));
    }
    let rest = text.strip_prefix("OK ").ok_or_else(malformed)?;
    let (status, length) = rest.split_once(' ').ok_or_else(malformed)?;
    // Digits only: `str::parse` would also take `+5`.
    let decimal = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !decimal(status) || !decimal(length) {
        return Err(malformed());
    }
    Ok(Header::Ok {
        status: status.parse().map_err(|_| malformed())?,
        length: length.parse().map_err(|_| malformed())?,
    })
}

/// `text` with control characters (newlines, escape sequences) escaped, so
/// that what a peer sent can neither add a line to a log or an `ERR`
/// answer nor rewrite a terminal; everything else is left as it is.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        let request = parse_request(line.as_bytes()).unwrap();
        std::iter::once(request.program)
            .chain(request.args)
            .collect()
    }

    #[test]
    fn requests_split_on_white_space_and_nothing_else() {
        assert_eq!(words("echo hello"), ["echo", "hello"]);
        assert_eq!(words("  ls\t-l   /tmp \r"), ["ls", "-l", "/tmp"]);
        assert_eq!(words("echo a;id"), ["echo", "a;id"]);
        assert_eq!(words("echo $(id) `id` *"), ["echo", "$(id)", "`id`", "*"]);
        assert_eq!(words("echo 'a b'"), ["echo", "'a", "b'"]);
        assert_eq!(words("echo a\u{a0}b"), ["echo", "a\u{a0}b"]);
    }

    #[test]
    fn bad_requests_are_named() {
        assert_eq!(parse_request(b""), Err(BadRequest::Empty));
        assert_eq!(parse_request(b" \t\r"), Err(BadRequest::Empty));
        assert_eq!(parse_request(b"echo \xff"), Err(BadRequest::NotUtf8));
        assert_eq!(parse_request(b"echo a\0b"), Err(BadRequest::NulByte));
        let long = vec![b'a'; MAX_REQUEST_LINE + 1];
        assert_eq!(parse_request(&long), Err(BadRequest::TooLong));
        assert!(parse_request(&long[1..]).is_ok());
    }

    #[test]
    fn lines_are_read_under_the_cap_and_in_step() {
        let input = b"date\nxxxxxxxxxx\r\necho\n\npartial";
        // A reader that hands out 3 bytes at a time: lines cross chunks.
        let mut reader = io::BufReader::with_capacity(3, &input[..]);
        assert_eq!(
            read_line(&mut reader, 8).unwrap(),
            LineRead::Line(b"date".to_vec())
        );
        assert_eq!(read_line(&mut reader, 8).unwrap(), LineRead::TooLong);
        assert_eq!(
            read_line(&mut reader, 8).unwrap(),
            LineRead::Line(b"echo".to_vec())
        );
        assert_eq!(read_line(&mut reader, 8).unwrap(), LineRead::Line(vec![]));
        assert_eq!(
            read_line(&mut reader, 8).unwrap(),
            LineRead::End {
                partial: b"partial".to_vec()
            }
        );
        assert_eq!(
            read_line(&mut reader, 8).unwrap(),
            LineRead::End { partial: vec![] }
        );
        // A last line over the cap is too long, then the stream ends.
        let mut long = &b"123456789"[..];
        assert_eq!(read_line(&mut long, 8).unwrap(), LineRead::TooLong);
        assert_eq!(
            read_line(&mut long, 8).unwrap(),
            LineRead::End { partial: vec![] }
        );
        // Exactly the cap is allowed.
        let mut exact = &b"12345678\n"[..];
        assert_eq!(
            read_line(&mut exact, 8).unwrap(),
            LineRead::Line(b"12345678".to_vec())
        );
    }

    #[test]
    fn headers_round_trip_and_junk_is_malformed() {
        for header in [
            Header::Ok {
                status: 0,
                length: 6,
            },
            Header::Ok {
                status: 137,
                length: 1 << 20,
            },
            Header::Err("timed out after 10 s; killed".into()),
        ] {
            let text = header.to_string();
            let line = text.strip_suffix('\n').unwrap();
            assert_eq!(parse_header(line.as_bytes()), Ok(header));
        }
        for junk in [
            &b"OK"[..],
            b"OK 0",
            b"OK 256 1",
            b"OK +1 1",
            b"OK 0 -1",
            b"OK 0  1",
            b"ok 0 1",
            b"ERR",
            b"HELLO",
            b"\xff",
        ] {
            assert!(parse_header(junk).is_err(), "{junk:?}");
        }
        // A reason cannot smuggle a second line into the answer.
        assert_eq!(
            Header::Err("a\nOK 0 0".into()).to_string(),
            "ERR a\\nOK 0 0\n"
        );
    }

    #[test]
    fn the_greeting_is_rfc_3339() {
        let text = greeting(Local::now());
        let time = parse_greeting(text.trim_end().as_bytes()).unwrap();
        assert!((Local::now().fixed_offset() - time).num_seconds().abs() < 5);
        assert!(parse_greeting(b"TIME yesterday").is_err());
        assert!(parse_greeting(b"HELLO").is_err());
        let err = parse_greeting(&[b'x'; 100]).unwrap_err().to_string();
        assert!(err.ends_with("…'"), "{err}");
    }

    #[test]
    fn printable_escapes_control_characters_only() {
        assert_eq!(printable("CN=é ü"), "CN=é ü");
        assert_eq!(printable("a\nb\x1b[2J"), "a\\nb\\u{1b}[2J");
    }
}
