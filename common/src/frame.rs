//! The multicast frame of Part 4 (docs/SPEC.md, "Multicast"): one UDP datagram is
//! a 6-byte ID followed by the text, nothing else: no length, no separator,
//! no newline.
//!
//! The ID is `swcmTV` for the TV channel and a 6-digit CAMIPRO number for a
//! subscriber. The receiver prints every datagram as `[<ID>] <text>`; what a
//! peer sends is never trusted to be well formed, so this module also
//! decides how odd bytes are shown:
//!
//! - an ID that is not printable ASCII is shown in hex, `[0x…]`;
//! - one trailing line ending of the text (`\n` or `\r\n`, which a sender
//!   that sends whole lines leaves in) is not shown;
//! - other control characters (a newline inside the text, an escape
//!   sequence) are shown escaped (`\n`, `\x1b`), so that one datagram is
//!   always one line and a peer cannot drive the terminal;
//! - bytes that are not UTF-8 are shown as `\xNN`, the rest of the text as
//!   it is.

use std::fmt;
use std::str::FromStr;

/// Bytes of the ID at the start of every datagram.
pub const ID_LEN: usize = 6;

/// The most a UDP datagram can carry over IPv4: 65535 minus the 20-byte IP
/// and 8-byte UDP headers (RFC 768, RFC 791).
pub const MAX_UDP_PAYLOAD_V4: usize = 65_507;

/// The most a UDP datagram can carry over IPv6 without jumbograms: the
/// 16-bit payload length counts the 8-byte UDP header but not the IPv6
/// header (RFC 8200 §3).
pub const MAX_UDP_PAYLOAD_V6: usize = 65_527;

/// The ID of a datagram: who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Id(pub [u8; ID_LEN]);

impl Id {
    /// The TV channel's ID.
    pub const TV: Id = Id(*b"swcmTV");

    /// Whether every byte is printable ASCII (space to `~`).
    pub fn is_printable(&self) -> bool {
        self.0.iter().all(|b| (0x20..=0x7e).contains(b))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_printable() {
            // Printable ASCII is valid UTF-8, one char per byte.
            self.0.iter().try_for_each(|&b| write!(f, "{}", b as char))
        } else {
            f.write_str("0x")?;
            self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
        }
    }
}

/// An ID given on a command line that is not exactly 6 ASCII bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdError(String);

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for IdError {}

impl FromStr for Id {
    type Err = IdError;

    /// Exactly 6 ASCII bytes, such as a CAMIPRO number `123456`.
    fn from_str(s: &str) -> Result<Id, IdError> {
        if !s.is_ascii() {
            return Err(IdError(format!(
                "'{s}' is not ASCII; the ID must be exactly {ID_LEN} ASCII characters, \
                 such as your 6-digit CAMIPRO number"
            )));
        }
        let bytes: [u8; ID_LEN] = s.as_bytes().try_into().map_err(|_| {
            IdError(format!(
                "'{s}' is {} characters long; the ID must be exactly {ID_LEN} ASCII characters, \
                 such as your 6-digit CAMIPRO number",
                s.len()
            ))
        })?;
        Ok(Id(bytes))
    }
}

/// One datagram, borrowed from the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub id: Id,
    pub text: &'a [u8],
}

/// A datagram too short to hold an ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooShort(pub usize);

impl fmt::Display for TooShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} byte(s), shorter than the {ID_LEN}-byte ID", self.0)
    }
}

impl std::error::Error for TooShort {}

impl<'a> Frame<'a> {
    /// Splits a received datagram into ID and text.
    pub fn parse(datagram: &'a [u8]) -> Result<Frame<'a>, TooShort> {
        match datagram.split_first_chunk::<ID_LEN>() {
            Some((id, text)) => Ok(Frame { id: Id(*id), text }),
            None => Err(TooShort(datagram.len())),
        }
    }

    /// The datagram's bytes: the ID, then the text.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut wire = Vec::with_capacity(ID_LEN + self.text.len());
        wire.extend_from_slice(&self.id.0);
        wire.extend_from_slice(self.text);
        wire
    }

    /// The text without one trailing line ending.
    pub fn line(&self) -> &'a [u8] {
        let text = self.text.strip_suffix(b"\n").unwrap_or(self.text);
        if text.len() < self.text.len() {
            text.strip_suffix(b"\r").unwrap_or(text)
        } else {
            text
        }
    }

    /// The length of [`line`](Self::line) in characters, as a person counts
    /// them (a byte that is not UTF-8 counts as one).
    pub fn chars(&self) -> usize {
        self.line()
            .utf8_chunks()
            .map(|chunk| chunk.valid().chars().count() + chunk.invalid().len())
            .sum()
    }
}

impl fmt::Display for Frame<'_> {
    /// `[<ID>] <text>`, escaped as the module documentation says.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] ", self.id)?;
        for chunk in self.line().utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '\n' => f.write_str("\\n")?,
                    '\r' => f.write_str("\\r")?,
                    '\t' => f.write_str("\t")?,
                    c if c.is_control() => write!(f, "\\x{:02x}", c as u32)?,
                    c => write!(f, "{c}")?,
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shown(datagram: &[u8]) -> String {
        Frame::parse(datagram).unwrap().to_string()
    }

    #[test]
    fn ids_are_six_ascii_bytes() {
        assert_eq!("123456".parse(), Ok(Id(*b"123456")));
        assert_eq!("swcmTV".parse(), Ok(Id::TV));
        for bad in ["", "12345", "1234567", "12345é", "ééé"] {
            let err = bad.parse::<Id>().unwrap_err().to_string();
            assert!(err.contains("exactly 6 ASCII"), "{bad}: {err}");
        }
    }

    #[test]
    fn frames_print_as_id_and_text() {
        assert_eq!(shown(b"swcmTVHello, world"), "[swcmTV] Hello, world");
        assert_eq!(shown(b"123456"), "[123456] ");
        assert_eq!(shown(b"123456caf\xc3\xa9\n"), "[123456] café");
        assert_eq!(shown(b"123456two\r\n"), "[123456] two");
        assert_eq!(shown(b"123456a\nb\n\n"), "[123456] a\\nb\\n");
        assert_eq!(shown(b"123456\x1b[31mred"), "[123456] \\x1b[31mred");
        assert_eq!(shown(b"123456tab\there"), "[123456] tab\there");
    }

    #[test]
    fn odd_ids_and_bytes_show_in_hex() {
        assert_eq!(shown(b"\x00\x01\xff123x"), "[0x0001ff313233] x");
        assert_eq!(shown(b"123456\xff\xfeok"), "[123456] \\xff\\xfeok");
    }

    #[test]
    fn short_datagrams_are_refused() {
        assert_eq!(Frame::parse(b"12345"), Err(TooShort(5)));
        assert_eq!(Frame::parse(b""), Err(TooShort(0)));
        assert!(TooShort(3).to_string().starts_with("3 byte(s)"));
    }

    #[test]
    fn characters_are_counted_not_bytes() {
        let frame = Frame::parse("123456éé\n".as_bytes()).unwrap();
        assert_eq!(frame.chars(), 2);
        let frame = Frame::parse(b"123456a\xffb").unwrap();
        assert_eq!(frame.chars(), 3);
    }

    proptest! {
        #[test]
        fn round_trips_and_shows_one_line(id in any::<[u8; 6]>(), text in proptest::collection::vec(any::<u8>(), 0..300)) {
            let frame = Frame { id: Id(id), text: &text };
            let wire = frame.to_wire();
            prop_assert_eq!(Frame::parse(&wire), Ok(frame));
            let line = frame.to_string();
            prop_assert!(!line.contains('\n') && !line.contains('\r'), "{}", line);
        }
    }
}
