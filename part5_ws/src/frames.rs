//! The WebSocket frames of the answer (RFC 6455 §5), read as they stream:
//! each data frame's payload is handed over in pieces as it arrives, so a
//! message of any size (a 4 GiB flood) goes through a fixed buffer.
//!
//! tungstenite does the opening handshake (the HTTP upgrade, the key and
//! its check), behind [`UntilBlankLine`], which lets it read no byte past
//! the HTTP answer: the frames that follow stay here. tungstenite's own
//! reader hands over whole messages only (it holds each in memory), so the
//! frames are read here: its `FrameHeader::parse` decodes each header.
//!
//! - A text message's UTF-8 is checked as its pieces go by, a sequence cut
//!   between two frames or two reads included ([`Utf8Check`]).
//! - The end of the stream between two messages ends the answer (a server
//!   that closes without the close handshake: nothing lost); inside a frame
//!   or between the fragments of a message it is an error, a truncated
//!   answer that must not pass for a whole one.
//! - Ping is answered with pong; the server's close frame with ours, which
//!   ends the answer.
//! - `--max-message-size` and `--max-frame-size` still bound what is
//!   accepted, though memory no longer depends on them.

use std::io::{self, Cursor, ErrorKind, Read, Write};
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

/// The read buffer: large enough that a flood costs few `recv()` calls,
/// small enough to stay in the caches. Measured with a 256 MiB message
/// on this project's 2-core VM: 0.29 s with 256 KiB, 0.16 s with 64 KiB
/// (part2_pdc's `recv()` size, chosen the same way).
pub const READ_BUFFER: usize = 64 * 1024;

/// What [`Frames::next`] has next.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// The next bytes of the current message.
    Data(&'a [u8]),
    /// The current message is complete.
    EndOfMessage,
    /// The server is done: its close frame, or the end of the stream
    /// between two messages.
    End,
}

/// The limits on what is accepted.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_message: u64,
    pub max_frame: u64,
}

/// A message in progress.
#[derive(Debug)]
enum Message {
    Text(Utf8Check),
    Binary,
}

/// The frames of a WebSocket client's connection.
#[derive(Debug)]
pub struct Frames<S> {
    stream: S,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Payload bytes still to come in the current data frame.
    left: u64,
    /// Whether the current data frame is its message's last.
    fin: bool,
    message: Option<Message>,
    message_len: u64,
    /// The current message's last byte was handed over.
    end_due: bool,
    done: bool,
    limits: Limits,
    recv_calls: u64,
    /// Whether the server ended with the close handshake.
    pub close_handshake: bool,
}

impl<S: Read + Write> Frames<S> {
    /// Frames from `stream`, after the opening handshake; `read_ahead` are
    /// bytes already read from it.
    pub fn new(stream: S, read_ahead: &[u8], limits: Limits) -> Frames<S> {
        let mut buf = vec![0; READ_BUFFER.max(read_ahead.len())];
        buf[..read_ahead.len()].copy_from_slice(read_ahead);
        Frames {
            stream,
            buf,
            pos: 0,
            end: read_ahead.len(),
            left: 0,
            fin: false,
            message: None,
            message_len: 0,
            end_due: false,
            done: false,
            limits,
            recv_calls: 0,
            close_handshake: false,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Whether received bytes wait here.
    pub fn buffered(&self) -> bool {
        self.pos < self.end
    }

    /// Reads with data so far.
    pub fn recv_calls(&self) -> u64 {
        self.recv_calls
    }

    /// Payload bytes of the current binary frame that may go past this
    /// buffer, straight from the socket to the output: all that is still
    /// to come but the frame's last byte, which [`Frames::next`] hands
    /// over (so the message's last byte is seen, for the newline rule).
    /// Text frames never: their UTF-8 is checked here.
    pub fn direct(&self) -> u64 {
        match self.message {
            Some(Message::Binary) if self.pos == self.end => self.left.saturating_sub(1),
            _ => 0,
        }
    }

    /// `len` of the [`Frames::direct`] bytes were moved, in `calls`
    /// receives (`splice`, Linux only).
    #[cfg(target_os = "linux")]
    pub fn moved(&mut self, len: u64, calls: u64) {
        debug_assert!(len <= self.direct());
        self.left -= len;
        self.recv_calls += calls;
    }

    /// Sends one text message, as one masked frame (§5.3).
    pub fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send(0x1, text.as_bytes())
    }

    /// The next piece of the answer.
    pub fn next(&mut self) -> io::Result<Piece<'_>> {
        loop {
            if self.left > 0 {
                if self.pos == self.end && self.fill()? == 0 {
                    return Err(cut_short());
                }
                let n = usize::try_from(self.left)
                    .unwrap_or(usize::MAX)
                    .min(self.end - self.pos);
                let start = self.pos;
                self.pos += n;
                self.left -= n as u64;
                self.end_due = self.left == 0 && self.fin;
                if let Some(Message::Text(utf8)) = &mut self.message {
                    utf8.check(&self.buf[start..start + n])?;
                }
                return Ok(Piece::Data(&self.buf[start..start + n]));
            }
            if self.end_due {
                self.end_due = false;
                if let Some(Message::Text(utf8)) = &self.message {
                    utf8.finish()?;
                }
                self.message = None;
                self.message_len = 0;
                return Ok(Piece::EndOfMessage);
            }
            if self.done {
                return Ok(Piece::End);
            }
            let Some((header, len)) = self.header()? else {
                self.done = true;
                return Ok(Piece::End);
            };
            self.frame(header, len)?;
        }
    }

    /// Takes in one frame's header (and a control frame's payload).
    fn frame(&mut self, header: FrameHeader, len: u64) -> io::Result<()> {
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return Err(protocol(
                "a frame with reserved bits set (no extension was agreed)",
            ));
        }
        if header.mask.is_some() {
            return Err(protocol("a masked frame from the server (RFC 6455 §5.1)"));
        }
        match header.opcode {
            OpCode::Data(data) => {
                match (data, &self.message) {
                    (Data::Continue, None) => {
                        return Err(protocol("a continuation frame with no message to continue"));
                    }
                    (Data::Text | Data::Binary, Some(_)) => {
                        return Err(protocol("a new message before the previous one's end"));
                    }
                    (Data::Text, None) => self.message = Some(Message::Text(Utf8Check::default())),
                    (Data::Binary, None) => self.message = Some(Message::Binary),
                    _ => {}
                }
                let total = self.message_len.saturating_add(len);
                if len > self.limits.max_frame || total > self.limits.max_message {
                    return Err(too_long(len.max(total), self.limits));
                }
                self.message_len = total;
                self.left = len;
                self.fin = header.is_final;
                self.end_due = len == 0 && header.is_final;
                Ok(())
            }
            OpCode::Control(control) => {
                if !header.is_final || len > 125 {
                    return Err(protocol("a control frame fragmented or over 125 bytes"));
                }
                let payload = self.take(len as usize)?;
                match control {
                    Control::Ping => self.send(0xA, &payload),
                    Control::Close => {
                        // Our close frame echoes the server's status code.
                        let code = payload.get(..2).unwrap_or_default().to_vec();
                        let _ = self.send(0x8, &code);
                        self.close_handshake = true;
                        self.done = true;
                        if self.message.is_some() {
                            return Err(cut_short());
                        }
                        Ok(())
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// The next frame header, or `None` at the end of the stream between
    /// two messages.
    fn header(&mut self) -> io::Result<Option<(FrameHeader, u64)>> {
        loop {
            let mut cursor = Cursor::new(&self.buf[self.pos..self.end]);
            match FrameHeader::parse(&mut cursor) {
                Ok(Some(found)) => {
                    self.pos += cursor.position() as usize;
                    return Ok(Some(found));
                }
                Ok(None) => {}
                Err(err) => return Err(io::Error::new(ErrorKind::InvalidData, err.to_string())),
            }
            if self.fill()? == 0 {
                return match (self.pos == self.end, &self.message) {
                    (true, None) => Ok(None),
                    _ => Err(cut_short()),
                };
            }
        }
    }

    /// `len` bytes of a control frame's payload.
    fn take(&mut self, len: usize) -> io::Result<Vec<u8>> {
        while self.end - self.pos < len {
            if self.fill()? == 0 {
                return Err(cut_short());
            }
        }
        let payload = self.buf[self.pos..self.pos + len].to_vec();
        self.pos += len;
        Ok(payload)
    }

    /// Reads more: into the whole buffer when it is empty, else after what
    /// is there (moved to the front). The end of the stream is 0, whether
    /// TCP's or a TLS stream's without close_notify (which many servers,
    /// Python's websockets among them, skip).
    fn fill(&mut self) -> io::Result<usize> {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        let n = match self.stream.read(&mut self.buf[self.end..]) {
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::UnexpectedEof => 0,
            Err(err) => return Err(err),
        };
        if n > 0 {
            self.recv_calls += 1;
        }
        self.end += n;
        Ok(n)
    }

    /// Sends one whole frame, masked as a client must (§5.3).
    fn send(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n @ 0..=125 => frame.push(0x80 | n as u8),
            n @ 126..=65535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask: [u8; 4] = rand::random();
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        self.stream.write_all(&frame)?;
        self.stream.flush()
    }
}

/// The answer ended inside a message.
fn cut_short() -> io::Error {
    io::Error::new(
        ErrorKind::UnexpectedEof,
        "the server closed the connection in the middle of a message",
    )
}

fn protocol(what: &str) -> io::Error {
    io::Error::new(
        ErrorKind::InvalidData,
        format!("WebSocket protocol error: {what}"),
    )
}

fn too_long(size: u64, limits: Limits) -> io::Error {
    io::Error::new(
        ErrorKind::InvalidData,
        format!(
            "a message or frame of {size} bytes is over the limit of {} bytes (raise \
             --max-message-size, now {}, or --max-frame-size, now {})",
            limits.max_message.min(limits.max_frame),
            limits.max_message,
            limits.max_frame
        ),
    )
}

/// UTF-8 checked piece by piece: a sequence cut between two pieces is
/// kept (at most 3 bytes) and completed by the next.
#[derive(Debug, Default)]
pub struct Utf8Check {
    pending: [u8; 4],
    len: usize,
}

impl Utf8Check {
    /// Checks the next piece.
    pub fn check(&mut self, mut piece: &[u8]) -> io::Result<()> {
        if self.len > 0 {
            let width = match self.pending[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = (width - self.len).min(piece.len());
            self.pending[self.len..self.len + take].copy_from_slice(&piece[..take]);
            self.len += take;
            piece = &piece[take..];
            match std::str::from_utf8(&self.pending[..self.len]) {
                Ok(_) => self.len = 0,
                Err(err) if err.error_len().is_none() => return Ok(()),
                Err(_) => return Err(not_utf8()),
            }
        }
        match std::str::from_utf8(piece) {
            Ok(_) => Ok(()),
            Err(err) if err.error_len().is_none() => {
                let tail = &piece[err.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.len = tail.len();
                Ok(())
            }
            Err(_) => Err(not_utf8()),
        }
    }

    /// The message's end: no sequence may be left open.
    pub fn finish(&self) -> io::Result<()> {
        match self.len {
            0 => Ok(()),
            _ => Err(not_utf8()),
        }
    }
}

fn not_utf8() -> io::Error {
    io::Error::new(
        ErrorKind::InvalidData,
        "a text message that is not valid UTF-8 (RFC 6455 §8.1)",
    )
}

/// The stream as tungstenite's handshake sees it: bytes up to the blank
/// line that ends the HTTP answer, and not one more; what was read past it
/// is kept for the frames ([`UntilBlankLine::into_parts`]).
#[derive(Debug)]
pub struct UntilBlankLine<S> {
    stream: S,
    buf: Vec<u8>,
    pos: usize,
    /// How much of `\r\n\r\n` the bytes handed over end with (4: all).
    matched: usize,
}

impl<S> UntilBlankLine<S> {
    pub fn new(stream: S) -> UntilBlankLine<S> {
        UntilBlankLine {
            stream,
            buf: Vec::new(),
            pos: 0,
            matched: 0,
        }
    }

    /// The stream and the bytes read past the HTTP answer.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        let rest = self.buf[self.pos..].to_vec();
        (self.stream, rest)
    }
}

const BLANK_LINE: &[u8] = b"\r\n\r\n";

impl<S: Read> Read for UntilBlankLine<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.matched == BLANK_LINE.len() || out.is_empty() {
            return Ok(0);
        }
        if self.pos == self.buf.len() {
            self.buf.resize(4096, 0);
            let n = self.stream.read(&mut self.buf)?;
            self.buf.truncate(n);
            self.pos = 0;
            if n == 0 {
                return Ok(0);
            }
        }
        let mut n = 0;
        while n < out.len() && self.pos < self.buf.len() && self.matched < BLANK_LINE.len() {
            let b = self.buf[self.pos];
            out[n] = b;
            n += 1;
            self.pos += 1;
            self.matched = if b == BLANK_LINE[self.matched] {
                self.matched + 1
            } else {
                usize::from(b == BLANK_LINE[0])
            };
        }
        Ok(n)
    }
}

impl<S: Write> Write for UntilBlankLine<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that returns the given reads one by one, and takes writes.
    #[derive(Debug, Default)]
    struct Script {
        reads: Vec<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.reads.is_empty() {
                return Ok(0);
            }
            let next = &mut self.reads[0];
            let n = next.len().min(buf.len());
            buf[..n].copy_from_slice(&next[..n]);
            next.drain(..n);
            if next.is_empty() {
                self.reads.remove(0);
            }
            Ok(n)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    const LIMITS: Limits = Limits {
        max_message: 1 << 40,
        max_frame: 1 << 40,
    };

    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![first];
        match payload.len() {
            n @ 0..=125 => f.push(n as u8),
            n @ 126..=65535 => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    /// The messages read from `stream` delivered in the reads `cuts` make,
    /// or the error.
    fn messages(stream: &[u8], cuts: &[usize]) -> io::Result<Vec<Vec<u8>>> {
        let mut reads = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain([&stream.len()]) {
            reads.push(stream[start..cut].to_vec());
            start = cut;
        }
        reads.retain(|r| !r.is_empty());
        let mut frames = Frames::new(
            Script {
                reads,
                written: Vec::new(),
            },
            &[],
            LIMITS,
        );
        let mut all = Vec::new();
        let mut current = Vec::new();
        loop {
            match frames.next()? {
                Piece::Data(d) => current.extend_from_slice(d),
                Piece::EndOfMessage => all.push(std::mem::take(&mut current)),
                Piece::End => return Ok(all),
            }
        }
    }

    /// Text, binary, a fragmented text message with a ping between its
    /// fragments and a 4-byte character cut between them, an empty
    /// message, a 16-bit length, and the close frame; and where each
    /// whole message ends in the stream.
    fn sample() -> (Vec<u8>, Vec<Vec<u8>>, Vec<usize>) {
        let long = vec![b'L'; 300];
        let euro = "€𝄞".as_bytes(); // 3 + 4 bytes
        let mut s = Vec::new();
        let mut ends = vec![0];
        s.extend(frame(0x81, b"This is PMU data 0"));
        ends.push(s.len());
        s.extend(frame(0x82, b"\xff\x00binary"));
        ends.push(s.len());
        s.extend(frame(0x01, &euro[..5])); // text, no FIN: the 𝄞 cut
        s.extend(frame(0x89, b"ping!"));
        s.extend(frame(0x80, &euro[5..])); // continuation, FIN
        ends.push(s.len());
        s.extend(frame(0x81, b""));
        ends.push(s.len());
        s.extend(frame(0x82, &long));
        ends.push(s.len());
        s.extend(frame(0x88, &[0x03, 0xe8]));
        ends.push(s.len());
        let want = vec![
            b"This is PMU data 0".to_vec(),
            b"\xff\x00binary".to_vec(),
            euro.to_vec(),
            Vec::new(),
            long,
        ];
        (s, want, ends)
    }

    #[test]
    fn frames_split_at_every_byte_give_the_same_messages() {
        let (stream, want, _) = sample();
        for cut in 0..=stream.len() {
            assert_eq!(messages(&stream, &[cut]).unwrap(), want, "cut at {cut}");
        }
        let every: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(messages(&stream, &every).unwrap(), want);
    }

    #[test]
    fn a_stream_that_ends_inside_a_message_or_frame_is_an_error() {
        let (stream, want, ends) = sample();
        for end in 0..=stream.len() {
            let got = messages(&stream[..end], &[end / 2]);
            match ends.iter().position(|&e| e == end) {
                Some(i) => assert_eq!(got.unwrap(), want[..i.min(want.len())], "{end}"),
                None => {
                    let err = got.unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{end}");
                    assert!(err.to_string().contains("in the middle of a message"));
                }
            }
        }
    }

    #[test]
    fn utf8_sequences_cut_between_frames_and_reads_are_checked() {
        let text = "aé€𝄞z".as_bytes();
        for cut in 0..=text.len() {
            let mut s = frame(0x01, &text[..cut]);
            s.extend(frame(0x80, &text[cut..]));
            for read_cut in 0..=s.len() {
                assert_eq!(
                    messages(&s, &[read_cut]).unwrap(),
                    [text.to_vec()],
                    "{cut} {read_cut}"
                );
            }
        }
        // Invalid: a lone continuation byte, a sequence never completed,
        // an overlong form, a surrogate; each cut between two frames.
        for bad in [&b"a\x80"[..], b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80"] {
            for cut in 0..=bad.len() {
                let mut s = frame(0x01, &bad[..cut]);
                s.extend(frame(0x80, &bad[cut..]));
                let err = messages(&s, &[]).unwrap_err();
                assert!(err.to_string().contains("UTF-8"), "{bad:?} {cut}: {err}");
            }
        }
        // Binary frames are not checked.
        assert!(messages(&frame(0x82, b"\xff"), &[]).is_ok());
    }

    #[test]
    fn protocol_errors_and_limits_are_refused() {
        let masked = [0x82, 0x81, 1, 2, 3, 4, 5];
        assert!(
            messages(&masked, &[])
                .unwrap_err()
                .to_string()
                .contains("masked")
        );
        let lone = frame(0x80, b"x");
        assert!(
            messages(&lone, &[])
                .unwrap_err()
                .to_string()
                .contains("continuation")
        );
        let mut two = frame(0x01, b"a");
        two.extend(frame(0x81, b"b"));
        assert!(messages(&two, &[]).is_err());
        let mut frames = Frames::new(
            Script {
                reads: vec![frame(0x02, b"abc"), frame(0x80, b"def")],
                written: Vec::new(),
            },
            &[],
            Limits {
                max_message: 5,
                max_frame: 4,
            },
        );
        assert_eq!(frames.next().unwrap(), Piece::Data(b"abc"));
        let err = frames.next().unwrap_err();
        assert!(err.to_string().contains("over the limit"), "{err}");
    }

    #[test]
    fn ping_gets_pong_and_close_gets_close() {
        let mut s = frame(0x89, b"hi");
        s.extend(frame(0x88, &[0x03, 0xe8, b'b', b'y', b'e']));
        let mut frames = Frames::new(
            Script {
                reads: vec![s],
                written: Vec::new(),
            },
            &[],
            LIMITS,
        );
        assert_eq!(frames.next().unwrap(), Piece::End);
        assert!(frames.close_handshake);
        let w = &frames.get_ref().written;
        // Pong: FIN|0xA, masked, 2 bytes; then close: FIN|0x8, masked, the code.
        assert_eq!((w[0], w[1]), (0x8a, 0x82));
        let mask = &w[2..6];
        let pong: Vec<u8> = w[6..8].iter().zip(mask).map(|(b, m)| b ^ m).collect();
        assert_eq!(pong, b"hi");
        assert_eq!((w[8], w[9]), (0x88, 0x82));
        let mask = &w[10..14];
        let code: Vec<u8> = w[14..16].iter().zip(mask).map(|(b, m)| b ^ m).collect();
        assert_eq!(code, [0x03, 0xe8]);
    }

    #[test]
    fn the_handshake_reads_nothing_past_the_blank_line() {
        let answer = b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\n\r\n\x82\x01x";
        let mut reader = UntilBlankLine::new(Script {
            reads: vec![answer[..10].to_vec(), answer[10..].to_vec()],
            written: Vec::new(),
        });
        let mut seen = Vec::new();
        reader.read_to_end(&mut seen).unwrap();
        assert_eq!(seen, &answer[..answer.len() - 3]);
        let (_, rest) = reader.into_parts();
        assert_eq!(rest, b"\x82\x01x");
    }
}
