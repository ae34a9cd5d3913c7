//! One message on the wire (docs/SPEC.md, "CBC messages"):
//!
//! ```text
//! +-----------+-----------+------------------------------+---------------+
//! | L (4, BE) | IV (16)   | AES-256-CBC(PKCS#7(text))    | HMAC (32)     |
//! +-----------+-----------+------------------------------+---------------+
//!             <------------------------- L bytes ------------------------>
//!                         HMAC-SHA256(mac key, IV || ciphertext)
//! ```
//!
//! TCP is a byte stream, not a message service: the length prefix is what
//! tells the receiver where a message ends when several follow one another
//! on a connection, or when one arrives in many pieces.
//!
//! # Why encrypt-then-MAC
//! The tag is computed over the ciphertext (and the IV), not over the
//! text. The receiver can then check it before doing anything else with
//! the message: a forged or altered frame is thrown away without being
//! decrypted, so neither the malleability of CBC nor a padding oracle is
//! reachable (see `cbc.rs`). MAC-then-encrypt (TLS's CBC suites) must
//! decrypt and unpad first, and decades of attacks (Vaudenay, Lucky
//! Thirteen, POODLE) came from doing that step without leaking. The IV is
//! under the MAC too: it is the "C_0" whose bits flip those of the first
//! block.
//!
//! The length prefix is not under the MAC and need not be: a different L
//! moves the boundary between ciphertext and tag, so the tag no longer
//! matches, or the frame no longer parses.
//!
//! # Why a cap, checked before allocating
//! L comes from the peer. Trusting it (`vec![0; L]`) lets anyone make the
//! server reserve 4 GiB with four bytes. L is checked against
//! [`MAX_BODY`] (1 MiB) and against the shapes a real frame can have
//! before a byte of the body is read, and the body buffer then grows only
//! as bytes actually arrive.
//!
//! Every function here is safe on any input: the codec is meant to be
//! fuzzed (`parse` on arbitrary bytes, `open` on arbitrary bodies).

use crate::cbc::{self, BLOCK_SIZE};
use crate::key::{self, Keys};
use hmac::{KeyInit, Mac};
use std::fmt;
use std::io::{self, Read};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Bytes of the length prefix.
pub const LEN_PREFIX: usize = 4;
/// Bytes of the IV, one cipher block.
pub const IV_LEN: usize = BLOCK_SIZE;
/// Bytes of the HMAC-SHA256 tag.
pub const TAG_LEN: usize = 32;
/// The largest L a receiver accepts: 1 MiB.
pub const MAX_BODY: usize = 1 << 20;
/// The smallest L a frame can have: IV, one block (an empty text is a
/// whole block of padding) and the tag.
pub const MIN_BODY: usize = IV_LEN + BLOCK_SIZE + TAG_LEN;
/// The longest text that fits under [`MAX_BODY`]: 1 048 527 bytes.
pub const MAX_TEXT: usize = (MAX_BODY - IV_LEN - TAG_LEN) / BLOCK_SIZE * BLOCK_SIZE - 1;

/// Why a length prefix is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthError {
    /// Over [`MAX_BODY`].
    TooLong(u32),
    /// Under [`MIN_BODY`], or not IV + whole blocks + tag.
    Malformed(u32),
}

impl fmt::Display for LengthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LengthError::TooLong(len) => {
                write!(f, "frame length {len} is over the {MAX_BODY}-byte cap")
            }
            LengthError::Malformed(len) => write!(
                f,
                "frame length {len} is not that of a message (at least {MIN_BODY}, \
                 and {} plus a multiple of {BLOCK_SIZE})",
                IV_LEN + TAG_LEN
            ),
        }
    }
}

impl std::error::Error for LengthError {}

/// The one error for a frame that fails authentication or, after it,
/// padding: which of the two is never told, so that no caller can turn
/// into a padding oracle by printing a more helpful message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected;

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("authentication failed")
    }
}

impl std::error::Error for Rejected {}

/// A text too long for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge(pub usize);

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the message is {} bytes; one message holds at most {MAX_TEXT} bytes \
             (frames are capped at {MAX_BODY} bytes)",
            self.0
        )
    }
}

impl std::error::Error for TooLarge {}

/// Why [`read_body`] stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The length prefix was refused; the stream cannot be trusted after it.
    Length(LengthError),
    /// The peer closed in the middle of a frame.
    Truncated { got: usize, expected: usize },
    /// The socket failed, or its read timed out (`WouldBlock`/`TimedOut`).
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Length(err) => err.fmt(f),
            ReadError::Truncated { got, expected } => write!(
                f,
                "truncated frame: the peer closed after {got} of {expected} bytes"
            ),
            ReadError::Io(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Length(err) => Some(err),
            ReadError::Io(err) => Some(err),
            ReadError::Truncated { .. } => None,
        }
    }
}

/// Checks a length prefix, before anything is allocated for the body.
pub fn check_length(len: u32) -> Result<usize, LengthError> {
    let Ok(n) = usize::try_from(len) else {
        return Err(LengthError::TooLong(len));
    };
    if n > MAX_BODY {
        return Err(LengthError::TooLong(len));
    }
    if n < MIN_BODY || (n - IV_LEN - TAG_LEN) % BLOCK_SIZE != 0 {
        return Err(LengthError::Malformed(len));
    }
    Ok(n)
}

/// Encrypts and authenticates `text` under a fresh random IV: the whole
/// frame, length prefix included, ready for `write_all`.
pub fn seal(keys: &Keys, text: &[u8]) -> Result<Vec<u8>, SealError> {
    if text.len() > MAX_TEXT {
        return Err(SealError::TooLarge(TooLarge(text.len())));
    }
    let mut iv = [0u8; IV_LEN];
    key::fill_random(&mut iv).map_err(SealError::Random)?;
    seal_with_iv(keys, &iv, text).map_err(SealError::TooLarge)
}

/// Why [`seal`] failed.
#[derive(Debug)]
pub enum SealError {
    TooLarge(TooLarge),
    Random(io::Error),
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::TooLarge(err) => err.fmt(f),
            SealError::Random(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for SealError {}

/// [`seal`] with a given IV. Only for tests and known-answer checks: a
/// real message needs a fresh random IV (see `cbc.rs`).
pub fn seal_with_iv(keys: &Keys, iv: &[u8; IV_LEN], text: &[u8]) -> Result<Vec<u8>, TooLarge> {
    if text.len() > MAX_TEXT {
        return Err(TooLarge(text.len()));
    }
    let ciphertext = cbc::encrypt(&keys.cipher(), iv, text);
    let body_len = IV_LEN + ciphertext.len() + TAG_LEN;
    let mut frame = Vec::with_capacity(LEN_PREFIX + body_len);
    // body_len <= MAX_BODY (checked above), so it fits in 32 bits.
    frame.extend_from_slice(&(body_len as u32).to_be_bytes());
    frame.extend_from_slice(iv);
    frame.extend_from_slice(&ciphertext);
    let tag = mac(keys, iv, &ciphertext).finalize().into_bytes();
    frame.extend_from_slice(&tag);
    Ok(frame)
}

/// Verifies and decrypts a frame's body (IV || ciphertext || tag, the L
/// bytes after the prefix): the text's bytes, or [`Rejected`].
///
/// The order is the point: the tag is checked first, in constant time
/// (`verify_slice` compares all 32 bytes whatever the first difference,
/// so the time taken does not tell a forger how many leading bytes of his
/// tag were right), and only an authentic ciphertext is decrypted and
/// unpadded.
pub fn open(keys: &Keys, body: &[u8]) -> Result<Vec<u8>, Rejected> {
    let shape_ok = u32::try_from(body.len()).is_ok_and(|len| check_length(len).is_ok());
    if !shape_ok {
        return Err(Rejected);
    }
    let (iv, rest) = body.split_at(IV_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut iv_block = [0u8; IV_LEN];
    iv_block.copy_from_slice(iv);
    mac(keys, &iv_block, ciphertext)
        .verify_slice(tag)
        .map_err(|_| Rejected)?;
    cbc::decrypt(&keys.cipher(), &iv_block, ciphertext).map_err(|_| Rejected)
}

/// A frame at the start of `buf`: `Ok(Some((body, frame_len)))`, or
/// `Ok(None)` when `buf` does not hold the whole frame yet. The length
/// prefix is checked as soon as its 4 bytes are there.
pub fn parse(buf: &[u8]) -> Result<Option<(&[u8], usize)>, LengthError> {
    let Some((prefix, rest)) = buf.split_first_chunk::<LEN_PREFIX>() else {
        return Ok(None);
    };
    let len = check_length(u32::from_be_bytes(*prefix))?;
    Ok(rest.get(..len).map(|body| (body, LEN_PREFIX + len)))
}

/// Reads the next frame's body from a stream: `Ok(None)` when the peer
/// closed cleanly between frames.
///
/// At most [`MAX_BODY`] bytes are ever held, and only as many as arrived:
/// a peer that announces 1 MiB and sends nothing costs nothing.
pub fn read_body(reader: &mut impl Read) -> Result<Option<Vec<u8>>, ReadError> {
    let mut prefix = [0u8; LEN_PREFIX];
    let got = read_full(reader, &mut prefix).map_err(ReadError::Io)?;
    if got == 0 {
        return Ok(None);
    }
    if got < LEN_PREFIX {
        return Err(ReadError::Truncated {
            got,
            expected: LEN_PREFIX,
        });
    }
    let len = check_length(u32::from_be_bytes(prefix)).map_err(ReadError::Length)?;
    let mut body = Vec::with_capacity(len.min(64 * 1024));
    reader
        .take(len as u64)
        .read_to_end(&mut body)
        .map_err(ReadError::Io)?;
    if body.len() < len {
        return Err(ReadError::Truncated {
            got: LEN_PREFIX + body.len(),
            expected: LEN_PREFIX + len,
        });
    }
    Ok(Some(body))
}

/// Fills `buf` unless the stream ends first; how many bytes it got.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(got)
}

fn mac(keys: &Keys, iv: &[u8; IV_LEN], ciphertext: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length; a 32-byte key is never refused.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(keys.mac_key())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(iv);
    mac.update(ciphertext);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_bytes([1; 32], [2; 32])
    }

    #[test]
    fn sizes() {
        assert_eq!(MIN_BODY, 64);
        assert_eq!(MAX_TEXT, 1_048_527);
        let frame = seal(&keys(), &vec![b'a'; MAX_TEXT]).unwrap();
        assert_eq!(frame.len(), LEN_PREFIX + MAX_BODY);
        assert!(matches!(
            seal(&keys(), &vec![b'a'; MAX_TEXT + 1]),
            Err(SealError::TooLarge(TooLarge(1_048_528)))
        ));
    }

    #[test]
    fn lengths() {
        assert_eq!(check_length(64), Ok(64));
        assert_eq!(check_length(80), Ok(80));
        assert_eq!(check_length(MAX_BODY as u32), Ok(MAX_BODY));
        assert_eq!(check_length(0), Err(LengthError::Malformed(0)));
        assert_eq!(check_length(63), Err(LengthError::Malformed(63)));
        assert_eq!(check_length(65), Err(LengthError::Malformed(65)));
        assert_eq!(
            check_length(MAX_BODY as u32 + 16),
            Err(LengthError::TooLong(MAX_BODY as u32 + 16))
        );
        assert_eq!(check_length(u32::MAX), Err(LengthError::TooLong(u32::MAX)));
    }

    #[test]
    fn parse_waits_for_the_whole_frame() {
        let frame = seal(&keys(), b"hello").unwrap();
        for cut in 0..frame.len() {
            assert_eq!(parse(&frame[..cut]), Ok(None), "{cut}");
        }
        let (body, used) = parse(&frame).unwrap().unwrap();
        assert_eq!(used, frame.len());
        assert_eq!(open(&keys(), body), Ok(b"hello".to_vec()));
    }

    #[test]
    fn read_body_reads_consecutive_frames() {
        let mut stream = seal(&keys(), b"one").unwrap();
        stream.extend(seal(&keys(), b"two").unwrap());
        let mut reader = &stream[..];
        let first = read_body(&mut reader).unwrap().unwrap();
        let second = read_body(&mut reader).unwrap().unwrap();
        assert!(read_body(&mut reader).unwrap().is_none());
        assert_eq!(open(&keys(), &first).unwrap(), b"one");
        assert_eq!(open(&keys(), &second).unwrap(), b"two");
    }
}
