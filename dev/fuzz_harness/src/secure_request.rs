//! secure_cmd's request line (`secure_cmd::protocol`): how the server reads
//! a line from a client (`read_line`, under a cap) and splits it into a
//! program and its arguments (`parse_request`), never through a shell; and
//! how the client parses the server's greeting and answer headers.

use secure_cmd::protocol::{self, LineRead};
use std::io::BufReader;

/// Properties:
/// - a parsed request has a program and arguments that are non-empty words
///   without ASCII white space or NUL, and the words joined by one space
///   parse back to the same request; its display is one line;
/// - `read_line` (with a cap and read sizes taken from the input) never
///   returns a line over the cap or one that holds a newline, always
///   ends, and when no line was too long, the lines and the last partial
///   one joined by newlines are the input;
/// - the client's header and greeting parsers never panic.
pub fn secure_request(data: &[u8]) {
    if let Ok(request) = protocol::parse_request(data) {
        let words: Vec<&String> = std::iter::once(&request.program)
            .chain(&request.args)
            .collect();
        for word in &words {
            assert!(!word.is_empty(), "{request:?}");
            assert!(
                !word.bytes().any(|b| b.is_ascii_whitespace() || b == 0),
                "{request:?}"
            );
        }
        let joined = words
            .iter()
            .map(|w| w.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            protocol::parse_request(joined.as_bytes()),
            Ok(request.clone())
        );
        let shown = request.to_string();
        assert!(!shown.contains('\n') && !shown.contains('\r'), "{shown:?}");
    }

    let cap = 1 + usize::from(data.first().copied().unwrap_or(0));
    let read_size = 1 + usize::from(data.get(1).copied().unwrap_or(0) % 64);
    let mut reader = BufReader::with_capacity(read_size, data);
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut too_long = false;
    for _ in 0..=data.len() + 1 {
        match protocol::read_line(&mut reader, cap).expect("reading a slice") {
            LineRead::Line(line) => {
                assert!(line.len() <= cap && !line.contains(&b'\n'), "{line:?}");
                pieces.push(line);
            }
            LineRead::TooLong => too_long = true,
            LineRead::End { partial } => {
                assert!(partial.len() <= cap && !partial.contains(&b'\n'));
                if !too_long {
                    pieces.push(partial);
                    assert_eq!(pieces.join(&b'\n'), data, "lines lost or changed");
                }
                let _ = protocol::parse_header(data);
                let _ = protocol::parse_greeting(data);
                return;
            }
        }
    }
    panic!("read_line did not reach the end of {} bytes", data.len());
}
