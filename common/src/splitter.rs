//! The streaming PMU splitter (Parts 2 and 6).
//!
//! With `CMD_short:<d>` the server sends `This is PMU data <i>` in one
//! `send()` each, with no separator; TCP is a byte stream, so messages
//! arrive coalesced and cut at any byte. The splitter re-cuts the stream
//! into messages.
//!
//! The hard part is the end of a message: after `This is PMU data 1` more
//! digits may follow (`12`), or the next message's `T`. Waiting for the next
//! byte would show each line one interval late with `CMD_short:1`, so the
//! splitter predicts: messages are numbered consecutively, so once `<i>` is
//! exactly the expected number the message is complete and is handed over
//! at once. The first message is expected to be 0 or 1 (the course server
//! counts from 0, the handout from 1). When a number is not the expected one
//! (a server that skips), the next non-digit byte or the end of the stream
//! confirms the end instead.
//!
//! Bytes that are not PMU messages (`Wrong command.`, a truncated message)
//! are handed over as one message each, cut where the next `This is PMU
//! data ` begins or at the end of the stream, and at most
//! [`MAX_OTHER`] bytes long, so that memory stays bounded whatever a server
//! sends.
//!
//! Speed: a stream of well-numbered messages is cut at memory speed. When
//! the splitter stands at the start of a message, it checks whether the
//! whole of `PREFIX` followed by the expected number is in the bytes at
//! hand (two `memcmp`s) and hands that slice over straight from the
//! caller's buffer, without copying it or looking at each byte; a client
//! that prints lines calls [`PmuSplitter::feed_lines`], whose run of such
//! messages costs two fixed-size comparisons and one 32-byte copy each, a
//! few nanoseconds (10^6 messages in a few milliseconds). Bytes that
//! are not PMU messages are skipped with `memchr`'s vectorised `memmem`
//! search for the next `PREFIX`. Everything else (a message cut between
//! two `recv()`s, a number that is not the expected one) goes through the
//! byte-at-a-time state machine below, which defines what the fast paths
//! must do: the tests check that both give the same messages for any bytes
//! cut anywhere.

use std::convert::Infallible;

/// What every PMU message starts with.
pub const PREFIX: &[u8] = b"This is PMU data ";

/// [`PREFIX`] as an array, for comparisons of a known size.
const PREFIX_ARRAY: &[u8; 17] = b"This is PMU data ";

/// The longest run of non-PMU bytes handed over as one message.
pub const MAX_OTHER: usize = 64 * 1024;

/// The most digits a message number may have (`u64::MAX` has 20).
const MAX_DIGITS: usize = 19;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `buf` is a proper prefix of [`PREFIX`] (maybe empty).
    Prefix,
    /// `buf` is `PREFIX` followed by `buf.len() - PREFIX.len()` digits.
    Digits,
    /// `buf` holds bytes that are not a PMU message; the last `tail` of them
    /// match the start of `PREFIX`.
    Other { tail: usize },
}

/// Re-cuts a PMU byte stream into messages; see the module documentation.
#[derive(Debug, Clone)]
pub struct PmuSplitter {
    buf: Vec<u8>,
    phase: Phase,
    /// The number the next message should carry, as ASCII digits; empty
    /// before the first message (then 0 or 1 is expected).
    expected: Vec<u8>,
}

impl Default for PmuSplitter {
    fn default() -> Self {
        PmuSplitter::new()
    }
}

impl PmuSplitter {
    pub fn new() -> PmuSplitter {
        PmuSplitter {
            buf: Vec::with_capacity(PREFIX.len() + MAX_DIGITS),
            phase: Phase::Prefix,
            expected: Vec::with_capacity(MAX_DIGITS + 1),
        }
    }

    /// Feeds the next bytes of the stream; `emit` receives every message
    /// they complete, in order. An error from `emit` stops the feed and is
    /// returned (the splitter is then in an unspecified state).
    pub fn feed<E>(
        &mut self,
        bytes: &[u8],
        mut emit: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut rest = bytes;
        while !rest.is_empty() {
            rest = self.step(rest, &mut emit)?;
        }
        Ok(())
    }

    /// Feeds the next bytes of the stream and appends every message they
    /// complete to `out`, each followed by a newline: what [`feed`] does
    /// with that `emit`, at memory speed for a run of well-numbered
    /// messages ([`PmuSplitter::run_of_lines`]). Returns how many messages
    /// were appended.
    ///
    /// [`feed`]: PmuSplitter::feed
    pub fn feed_lines(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> u64 {
        let mut rest = bytes;
        let mut count = 0;
        while !rest.is_empty() {
            let (used, lines) = self.run_of_lines(rest, out);
            count += lines;
            rest = &rest[used..];
            if rest.is_empty() {
                break;
            }
            let Ok(after) = self.step(rest, &mut line_into(out, &mut count));
            rest = after;
        }
        count
    }

    /// Ends the stream as [`PmuSplitter::finish`] does, appending what is
    /// left to `out` as a line; returns how many lines (0 or 1).
    pub fn finish_lines(&mut self, out: &mut Vec<u8>) -> u64 {
        let mut count = 0;
        let Ok(()) = self.finish(line_into(out, &mut count));
        count
    }

    /// One step of the feed: a whole expected message, a run of bytes that
    /// are not PMU messages, or one byte through the state machine.
    /// Returns what is left of `bytes`.
    fn step<'a, E>(
        &mut self,
        rest: &'a [u8],
        emit: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<&'a [u8], E> {
        if self.phase == Phase::Prefix && self.buf.is_empty() {
            if let Some(len) = self.whole_expected(rest) {
                // The fast path: a whole, expected message in `rest`.
                let (message, after) = rest.split_at(len);
                if self.expected.is_empty() {
                    self.expected.push(message[PREFIX.len()]);
                }
                increment_ascii(&mut self.expected);
                emit(message)?;
                return Ok(after);
            }
        } else if let Phase::Other { tail: 0 } = self.phase {
            return self.skip_other(rest, emit);
        }
        self.push(rest[0], emit)?;
        Ok(&rest[1..])
    }

    /// The fastest path, for [`PmuSplitter::feed_lines`]: a run of whole
    /// expected messages whose numbers have at most 8 digits. Each is
    /// checked with two fixed-size comparisons (`PREFIX`, then the digits
    /// as one masked 64-bit word) and copied as one 32-byte block that is
    /// then cut to the message's length and its newline, so no call to
    /// `memcmp` or `memcpy` is made per message. It runs while 32 bytes are
    /// at hand and stops at anything else, which [`PmuSplitter::step`] then
    /// takes. Returns the bytes used and the messages appended.
    fn run_of_lines(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> (usize, u64) {
        let mut n = self.expected.len();
        if self.phase != Phase::Prefix || !self.buf.is_empty() || !(1..=8).contains(&n) {
            return (0, 0);
        }
        let mut word = digits_word(&self.expected);
        let (mut at, mut count) = (0, 0);
        while let Some(block) = bytes[at..].first_chunk::<32>() {
            let (head, tail) = block.split_first_chunk::<{ PREFIX.len() }>().unwrap();
            let digits = u64::from_le_bytes(*tail.first_chunk::<8>().unwrap());
            if head != PREFIX_ARRAY || (digits ^ word) & (u64::MAX >> (64 - 8 * n)) != 0 {
                break;
            }
            let len = PREFIX.len() + n;
            let start = out.len();
            out.extend_from_slice(block);
            out[start + len] = b'\n';
            out.truncate(start + len + 1);
            at += len;
            count += 1;
            if let Some(next) = increment_word(word, n) {
                word = next;
            } else {
                // All nines: one digit more.
                self.expected.copy_from_slice(&word.to_le_bytes()[..n]);
                increment_ascii(&mut self.expected);
                n = self.expected.len();
                if n > 8 {
                    return (at, count);
                }
                word = digits_word(&self.expected);
            }
        }
        self.expected.copy_from_slice(&word.to_le_bytes()[..n]);
        (at, count)
    }

    /// The length of the expected message at the start of `bytes`, if all
    /// of it is there: `PREFIX` and the expected number. The state machine
    /// would hand it over on its last digit too: no shorter run of digits
    /// is the expected number. Compared with fixed-size and inline
    /// comparisons: a `memcmp` call per message would cost more than the
    /// comparison itself.
    fn whole_expected(&self, bytes: &[u8]) -> Option<usize> {
        let (head, digits) = bytes.split_first_chunk::<{ PREFIX.len() }>()?;
        if head != PREFIX_ARRAY {
            return None;
        }
        let expected: &[u8] = if self.expected.is_empty() {
            match digits.first()? {
                b'0' => b"0",
                b'1' => b"1",
                _ => return None,
            }
        } else {
            &self.expected
        };
        let n = expected.len();
        let same = digits.len() >= n
            && n <= MAX_DIGITS
            && digits[..n]
                .iter()
                .zip(expected)
                .fold(true, |eq, (a, b)| eq & (a == b));
        same.then_some(PREFIX.len() + n)
    }

    /// Other bytes, with no partial `PREFIX` at the end of `buf`: takes
    /// from `bytes` up to the next `PREFIX` (found with `memmem`) or up to
    /// [`MAX_OTHER`] in `buf`, as the state machine would byte by byte, and
    /// returns what is left of `bytes`.
    fn skip_other<'a, E>(
        &mut self,
        bytes: &'a [u8],
        emit: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<&'a [u8], E> {
        let room = MAX_OTHER.saturating_sub(self.buf.len()).max(1);
        let window = &bytes[..bytes.len().min(room)];
        if let Some(at) = memchr::memmem::find(window, PREFIX) {
            // Up to the PREFIX, which then starts a message.
            self.buf.extend_from_slice(&window[..at]);
            self.phase = Phase::Prefix;
            self.flush_other(0, emit)?;
            return Ok(&bytes[at..]);
        }
        self.buf.extend_from_slice(window);
        // The start of a PREFIX cut by the window's end: after the last `T`
        // (the only `T` of PREFIX is its first byte).
        let last = &self.buf[self.buf.len().saturating_sub(PREFIX.len() - 1)..];
        let tail = match memchr::memrchr(PREFIX[0], last) {
            Some(t) if PREFIX.starts_with(&last[t..]) => last.len() - t,
            _ => 0,
        };
        self.phase = Phase::Other { tail };
        if self.buf.len() >= MAX_OTHER {
            self.flush_other(tail, emit)?;
        }
        Ok(&bytes[window.len()..])
    }

    /// Ends the stream: `emit` receives what is left, if anything.
    pub fn finish<E>(&mut self, mut emit: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        if self.phase == Phase::Digits && self.buf.len() > PREFIX.len() {
            self.complete(&mut emit)
        } else {
            self.flush_other(0, &mut emit)?;
            self.phase = Phase::Prefix;
            Ok(())
        }
    }

    fn push<E>(&mut self, b: u8, emit: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        match self.phase {
            Phase::Prefix => {
                let k = self.buf.len();
                self.buf.push(b);
                if b == PREFIX[k] {
                    if k + 1 == PREFIX.len() {
                        self.phase = Phase::Digits;
                    }
                } else {
                    // PREFIX has no border (its `T` occurs only first), so a
                    // mismatch can only restart at this very byte.
                    self.phase = Phase::Other {
                        tail: usize::from(b == PREFIX[0]),
                    };
                }
                Ok(())
            }
            Phase::Digits => {
                let digits = self.buf.len() - PREFIX.len();
                if b.is_ascii_digit() && digits < MAX_DIGITS {
                    self.buf.push(b);
                    if self.is_expected(&self.buf[PREFIX.len()..]) {
                        self.complete(emit)?;
                    }
                    Ok(())
                } else if digits > 0 && !b.is_ascii_digit() {
                    // The next message (or other bytes) starts: this one is done.
                    self.complete(emit)?;
                    self.push(b, emit)
                } else {
                    // `This is PMU data ` without a number, or a number too
                    // long to be one: not a PMU message.
                    self.buf.push(b);
                    self.phase = Phase::Other {
                        tail: usize::from(b == PREFIX[0]),
                    };
                    Ok(())
                }
            }
            Phase::Other { tail } => {
                self.buf.push(b);
                let tail = if b == PREFIX[tail] {
                    tail + 1
                } else {
                    usize::from(b == PREFIX[0])
                };
                if tail == PREFIX.len() {
                    self.flush_other(PREFIX.len(), emit)?;
                    self.phase = Phase::Digits;
                } else {
                    self.phase = Phase::Other { tail };
                    if self.buf.len() >= MAX_OTHER {
                        self.flush_other(tail, emit)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Whether `digits` is the number the next message should carry.
    fn is_expected(&self, digits: &[u8]) -> bool {
        if self.expected.is_empty() {
            digits == b"0" || digits == b"1"
        } else {
            digits == self.expected.as_slice()
        }
    }

    /// Hands over the PMU message in `buf` and expects its successor.
    fn complete<E>(&mut self, emit: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let digits = std::mem::take(&mut self.buf);
        self.expected_after(&digits[PREFIX.len()..]);
        self.buf = digits;
        let result = emit(&self.buf);
        self.buf.clear();
        self.phase = Phase::Prefix;
        result
    }

    /// Expects the message after the one numbered `digits`.
    fn expected_after(&mut self, digits: &[u8]) {
        if self.expected.as_slice() != digits {
            self.expected.clear();
            self.expected.extend_from_slice(digits);
        }
        increment_ascii(&mut self.expected);
    }

    /// Hands over the non-PMU bytes of `buf` but its last `keep` bytes,
    /// which stay as the start of what follows.
    fn flush_other<E>(
        &mut self,
        keep: usize,
        emit: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let end = self.buf.len() - keep;
        let result = if end > 0 {
            emit(&self.buf[..end])
        } else {
            Ok(())
        };
        self.buf.drain(..end);
        result
    }
}

/// An `emit` that appends each message to `out` as a line and counts it.
fn line_into<'a>(
    out: &'a mut Vec<u8>,
    count: &'a mut u64,
) -> impl FnMut(&[u8]) -> Result<(), Infallible> + 'a {
    move |message| {
        *count += 1;
        out.extend_from_slice(message);
        out.push(b'\n');
        Ok(())
    }
}

/// Up to 8 ASCII digits as a little-endian word, zeros after them.
fn digits_word(digits: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word[..digits.len()].copy_from_slice(digits);
    u64::from_le_bytes(word)
}

/// Adds one to the `n` ASCII digits of a [`digits_word`], in place (the
/// last digit is the `n`th byte); `None` when they are all nines.
fn increment_word(word: u64, n: usize) -> Option<u64> {
    let mut word = word;
    for digit in (0..n).rev() {
        let shift = 8 * digit;
        if (word >> shift) as u8 == b'9' {
            word -= 9 << shift;
        } else {
            return Some(word + (1 << shift));
        }
    }
    None
}

/// Adds one to a decimal number written in ASCII digits.
fn increment_ascii(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, b'1');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::convert::Infallible;

    fn messages(first: u64, n: u64) -> Vec<String> {
        (first..first + n)
            .map(|i| format!("This is PMU data {i}"))
            .collect()
    }

    /// Splits `stream` fed in the given chunks, then finished.
    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        let mut s = PmuSplitter::new();
        let mut collect = |m: &[u8]| -> Result<(), Infallible> {
            out.push(String::from_utf8_lossy(m).into_owned());
            Ok(())
        };
        for chunk in chunks {
            s.feed(chunk, &mut collect).unwrap();
        }
        s.finish(&mut collect).unwrap();
        out
    }

    fn chunked(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([stream.len()]) {
            pieces.push(stream[start..cut].to_vec());
            start = cut;
        }
        pieces
    }

    #[test]
    fn increment() {
        for (from, to) in [("0", "1"), ("9", "10"), ("199", "200"), ("999", "1000")] {
            let mut d = from.as_bytes().to_vec();
            increment_ascii(&mut d);
            assert_eq!(d, to.as_bytes());
        }
        for (from, to) in [
            ("0", "1"),
            ("19", "20"),
            ("1999", "2000"),
            ("12345699", "12345700"),
        ] {
            let word = increment_word(digits_word(from.as_bytes()), from.len());
            assert_eq!(word, Some(digits_word(to.as_bytes())), "{from}");
        }
        assert_eq!(increment_word(digits_word(b"99999999"), 8), None);
    }

    #[test]
    fn every_single_split_point_three_digit_numbers() {
        for first in [0, 1] {
            let want = messages(first, 120);
            let stream = want.concat().into_bytes();
            for cut in 0..=stream.len() {
                assert_eq!(
                    split(&[&stream[..cut], &stream[cut..]]),
                    want,
                    "cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn byte_by_byte_each_message_is_handed_over_on_its_last_byte() {
        // The CMD_short:1 property: no message waits for the next one.
        for first in [0, 1] {
            let want = messages(first, 1001);
            let mut s = PmuSplitter::new();
            let mut seen = 0usize;
            for (i, m) in want.iter().enumerate() {
                for &b in m.as_bytes() {
                    s.feed(&[b], |got| {
                        assert_eq!(got, want[seen].as_bytes());
                        seen += 1;
                        Ok::<(), Infallible>(())
                    })
                    .unwrap();
                }
                assert_eq!(seen, i + 1, "message {i} was handed over on its last byte");
            }
            s.finish(|_| -> Result<(), Infallible> { panic!("nothing left") })
                .unwrap();
        }
    }

    #[test]
    fn a_server_that_skips_numbers_is_split_at_the_next_prefix() {
        let stream = b"This is PMU data 5This is PMU data 7This is PMU data 70";
        assert_eq!(
            split(&[stream]),
            [
                "This is PMU data 5",
                "This is PMU data 7",
                "This is PMU data 70"
            ]
        );
    }

    #[test]
    fn other_bytes_come_out_whole_between_messages() {
        assert_eq!(split(&[b"Wrong command."]), ["Wrong command."]);
        assert_eq!(
            split(&[
                b"This is PMU da",
                b"ta 0garbageThis is PMU data 1This is PMU dat"
            ]),
            [
                "This is PMU data 0",
                "garbage",
                "This is PMU data 1",
                "This is PMU dat"
            ]
        );
        assert_eq!(
            split(&[b"This is PMU data xThis is PMU data 0"]),
            ["This is PMU data x", "This is PMU data 0"]
        );
        assert_eq!(
            split(&[b"TThis is PMU data 0"]),
            ["T", "This is PMU data 0"]
        );
        assert_eq!(split(&[b""]), Vec::<String>::new());
    }

    #[test]
    fn other_bytes_are_bounded() {
        let junk = vec![b'x'; 3 * MAX_OTHER + 5];
        let out = split(&[&junk]);
        assert!(out.iter().all(|m| m.len() <= MAX_OTHER));
        assert_eq!(out.concat().len(), junk.len());
    }

    #[test]
    fn emit_errors_stop_the_feed() {
        let mut s = PmuSplitter::new();
        let stream = messages(0, 3).concat();
        let mut calls = 0;
        let r = s.feed(stream.as_bytes(), |_| {
            calls += 1;
            Err("closed")
        });
        assert_eq!((r, calls), (Err("closed"), 1));
    }

    /// The reference: every byte through the state machine alone.
    fn split_bytewise(stream: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut s = PmuSplitter::new();
        let mut collect = |m: &[u8]| -> Result<(), Infallible> {
            out.push(m.to_vec());
            Ok(())
        };
        for &b in stream {
            s.push(b, &mut collect).unwrap();
        }
        s.finish(&mut collect).unwrap();
        out
    }

    fn split_chunks(pieces: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut s = PmuSplitter::new();
        let mut collect = |m: &[u8]| -> Result<(), Infallible> {
            out.push(m.to_vec());
            Ok(())
        };
        for p in pieces {
            s.feed(p, &mut collect).unwrap();
        }
        s.finish(&mut collect).unwrap();
        out
    }

    #[test]
    fn fast_paths_agree_with_the_state_machine_on_junk_near_max_other() {
        // A PREFIX cut by the MAX_OTHER window, and one just inside it.
        for shift in [0usize, 1, 5, 16, 17, 18, 40] {
            let mut stream = vec![b'x'; MAX_OTHER - shift];
            stream.extend_from_slice(b"This is PMU data 0This is PMU data 1TThis is PMU");
            stream.extend(vec![b'y'; MAX_OTHER + 3]);
            stream.extend_from_slice(b" data 2This is PMU data 3");
            let want = split_bytewise(&stream);
            for cuts in [vec![], vec![7], vec![MAX_OTHER - 3, MAX_OTHER + 20]] {
                assert_eq!(
                    split_chunks(&chunked(&stream, &cuts)),
                    want,
                    "{shift} {cuts:?}"
                );
            }
        }
    }

    /// What `feed_lines` writes for `pieces`, then `finish`'s lines.
    fn lines_of(pieces: &[Vec<u8>]) -> (Vec<u8>, u64) {
        let mut out = Vec::new();
        let mut s = PmuSplitter::new();
        let mut count = 0;
        for p in pieces {
            count += s.feed_lines(p, &mut out);
        }
        count += s.finish_lines(&mut out);
        (out, count)
    }

    /// The state machine's messages as lines.
    fn lines_bytewise(stream: &[u8]) -> (Vec<u8>, u64) {
        let messages = split_bytewise(stream);
        let count = messages.len() as u64;
        (
            messages
                .iter()
                .flat_map(|m| [m.as_slice(), b"\n"])
                .flatten()
                .copied()
                .collect(),
            count,
        )
    }

    #[test]
    fn feed_lines_crosses_digit_counts_at_every_split_point() {
        // 9 -> 10, 99 -> 100, 999 -> 1000 from 0; 99999999 -> 100000000
        // (past the 8 digits of the word) after a first message that is
        // not 0 or 1.
        for (first, n) in [(0, 1010), (1, 120), (99_999_990, 20)] {
            let stream = messages(first, n).concat().into_bytes();
            let want = lines_bytewise(&stream);
            assert_eq!(want.1, n);
            for cut in 0..=stream.len() {
                let pieces = [stream[..cut].to_vec(), stream[cut..].to_vec()];
                assert_eq!(lines_of(&pieces), want, "{first}: cut at {cut}");
            }
            // Cut after each message: it is written then, not when the
            // next one begins (CMD_short:1's lines on time). The first is
            // confirmed by the next byte when it is not 0 or 1.
            let mut end = 0;
            for (i, m) in messages(first, n).iter().enumerate() {
                end += m.len();
                let mut out = Vec::new();
                PmuSplitter::new().feed_lines(&stream[..end], &mut out);
                if first <= 1 || i > 0 {
                    assert_eq!(
                        out,
                        lines_bytewise(&stream[..end]).0,
                        "{first}: message {i} waits"
                    );
                }
            }
        }
    }

    proptest! {
        #[test]
        fn feed_lines_writes_what_the_state_machine_cuts(
            parts in proptest::collection::vec(prop_oneof![
                (0u64..30).prop_map(|i| format!("This is PMU data {i}").into_bytes()),
                (0u64..40).prop_map(|i| messages(i * 25, 25).concat().into_bytes()),
                (99_999_970u64..100_000_010).prop_map(|i| messages(i, 12).concat().into_bytes()),
                Just(b"This is PMU data ".to_vec()),
                Just(b"This is P".to_vec()),
                proptest::collection::vec(prop_oneof![Just(b'T'), Just(b'9'), any::<u8>()], 0..12),
            ], 0..30),
            cuts in proptest::collection::vec(any::<usize>(), 0..10),
        ) {
            // Runs long enough for the 32-byte path, numbers around the
            // 8-digit limit, skips, repeats and junk, cut anywhere.
            let stream = parts.concat();
            prop_assert_eq!(lines_of(&chunked(&stream, &cuts)), lines_bytewise(&stream));
        }

        #[test]
        fn the_fast_paths_cut_as_the_state_machine_does(
            parts in proptest::collection::vec(prop_oneof![
                (0u64..30).prop_map(|i| format!("This is PMU data {i}").into_bytes()),
                Just(b"This is PMU data ".to_vec()),
                Just(b"This is P".to_vec()),
                Just(b"T".to_vec()),
                proptest::collection::vec(prop_oneof![Just(b'T'), Just(b'3'), any::<u8>()], 0..12),
            ], 0..40),
            cuts in proptest::collection::vec(any::<usize>(), 0..10),
        ) {
            // Well-numbered runs, skips, repeats, partial prefixes and junk,
            // cut anywhere: the same messages as byte by byte.
            let stream = parts.concat();
            prop_assert_eq!(split_chunks(&chunked(&stream, &cuts)), split_bytewise(&stream));
        }

        #[test]
        fn every_chunking_yields_the_messages(
            first in 0u64..2,
            n in 0u64..150,
            cuts in proptest::collection::vec(any::<usize>(), 0..40),
        ) {
            let want = messages(first, n);
            let stream = want.concat().into_bytes();
            let pieces = chunked(&stream, &cuts);
            let refs: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(split(&refs), want);
        }

        #[test]
        fn arbitrary_bytes_are_passed_through_whole(
            bytes in proptest::collection::vec(prop_oneof![Just(b'T'), Just(b'7'), any::<u8>()], 0..200),
            cuts in proptest::collection::vec(any::<usize>(), 0..10),
        ) {
            // Whatever a server sends, no byte is lost, added or reordered.
            let pieces = chunked(&bytes, &cuts);
            let mut out = Vec::new();
            let mut s = PmuSplitter::new();
            for p in &pieces {
                s.feed(p, |m| { out.extend_from_slice(m); Ok::<(), Infallible>(()) }).unwrap();
            }
            s.finish(|m| { out.extend_from_slice(m); Ok::<(), Infallible>(()) }).unwrap();
            prop_assert_eq!(out, bytes);
        }
    }
}
