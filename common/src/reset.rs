//! The UDP reset protocol of Part 3: the client sends `RESET:<n>`, the
//! server picks `0 <= X <= n` and answers `OFFSET=X` (the handout's form) or
//! `OFFSET:X` (what the course server really sends). Both are accepted.

use std::fmt;

const RESET: &str = "RESET:";
const OFFSET: &str = "OFFSET";

/// `RESET:<n>`: asks the server for an offset between 0 and n.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reset(pub u32);

impl Reset {
    /// The datagram's payload.
    pub fn to_wire(self) -> Vec<u8> {
        format!("{RESET}{}", self.0).into_bytes()
    }

    /// Parses a received datagram, trailing white space allowed.
    pub fn parse(bytes: &[u8]) -> Option<Reset> {
        let text = std::str::from_utf8(bytes).ok()?.trim_end();
        parse_decimal(text.strip_prefix(RESET)?).map(Reset)
    }
}

/// The separator between `OFFSET` and the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSep {
    /// `OFFSET=X`, as in the handout.
    Equals,
    /// `OFFSET:X`, as the course server sends it.
    Colon,
}

impl OffsetSep {
    fn as_char(self) -> char {
        match self {
            OffsetSep::Equals => '=',
            OffsetSep::Colon => ':',
        }
    }
}

/// `OFFSET=X` or `OFFSET:X`: the server's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    pub value: u32,
    pub sep: OffsetSep,
}

impl Offset {
    /// The datagram's payload.
    pub fn to_wire(self) -> Vec<u8> {
        format!("{OFFSET}{}{}", self.sep.as_char(), self.value).into_bytes()
    }

    /// Parses a reply: `OFFSET`, `=` or `:`, decimal digits, optional
    /// trailing white space. Anything else is `None`: the client ignores
    /// malformed replies and goes on waiting.
    pub fn parse(bytes: &[u8]) -> Option<Offset> {
        let text = std::str::from_utf8(bytes).ok()?.trim_end();
        let rest = text.strip_prefix(OFFSET)?;
        let sep = match rest.as_bytes().first()? {
            b'=' => OffsetSep::Equals,
            b':' => OffsetSep::Colon,
            _ => return None,
        };
        let value = parse_decimal(&rest[1..])?;
        Some(Offset { value, sep })
    }

    /// Whether this is a valid answer to `reset`: `0 <= X <= n`.
    pub fn answers(self, reset: Reset) -> bool {
        self.value <= reset.0
    }
}

impl fmt::Display for Offset {
    /// Always the handout's `OFFSET=X`, whatever the server sent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{OFFSET}={}", self.value)
    }
}

/// Plain decimal digits that fit a `u32`; no sign, no white space inside.
fn parse_decimal(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_offset_forms_parse() {
        assert_eq!(
            Offset::parse(b"OFFSET=7"),
            Some(Offset {
                value: 7,
                sep: OffsetSep::Equals
            })
        );
        assert_eq!(
            Offset::parse(b"OFFSET:20\n"),
            Some(Offset {
                value: 20,
                sep: OffsetSep::Colon
            })
        );
        assert_eq!(
            Offset::parse(b"OFFSET:20").unwrap().to_string(),
            "OFFSET=20"
        );
    }

    #[test]
    fn malformed_replies_are_none() {
        for bad in [
            &b""[..],
            b"OFFSET",
            b"OFFSET=",
            b"OFFSET=-1",
            b"OFFSET =1",
            b"OFFSET=1 2",
            b"OFFSET;3",
            b"offset=3",
            b"OFFSET=99999999999",
            b"Wrong command.",
            b"OFFSET=\xff",
            b" OFFSET=1",
        ] {
            assert_eq!(
                Offset::parse(bad),
                None,
                "{:?}",
                bad.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn an_offset_answers_only_resets_it_fits() {
        let x = Offset::parse(b"OFFSET=20").unwrap();
        assert!(x.answers(Reset(20)));
        assert!(!x.answers(Reset(19)));
    }

    #[test]
    fn reset_codec() {
        assert_eq!(Reset(20).to_wire(), b"RESET:20");
        assert_eq!(Reset::parse(b"RESET:20\r\n"), Some(Reset(20)));
        assert_eq!(Reset::parse(b"RESET:"), None);
        assert_eq!(Reset::parse(b"RESET:x"), None);
        assert_eq!(Reset::parse(b"RESET 20"), None);
    }

    proptest! {
        #[test]
        fn round_trips(value: u32, colon: bool) {
            let sep = if colon { OffsetSep::Colon } else { OffsetSep::Equals };
            let offset = Offset { value, sep };
            prop_assert_eq!(Offset::parse(&offset.to_wire()), Some(offset));
            prop_assert_eq!(Reset::parse(&Reset(value).to_wire()), Some(Reset(value)));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Offset::parse(&bytes);
            let _ = Reset::parse(&bytes);
        }
    }
}
