//! Where the server's byte stream stands between WebSocket frames
//! (RFC 6455 §5.2), followed beside tungstenite.
//!
//! tungstenite reports the end of the stream the same way whether it comes
//! between two messages (a server that closes without the close handshake:
//! nothing lost) or in the middle of one (a truncated answer, which must
//! not pass for a complete one). Reading only the frame headers of what
//! goes by tells the two apart: a frame cut short, or a fragmented message
//! whose final fragment never came, is a cut. The stream starts with the
//! server's HTTP answer to the opening handshake, skipped up to its blank
//! line (RFC 6455 §4.1: frames follow it at once, maybe in the same read).

use std::io::{self, Read, Write};

/// A byte stream whose frame boundaries are followed as it is read.
#[derive(Debug)]
pub struct Tracked<S> {
    inner: S,
    /// How much of the `\r\n\r\n` that ends the HTTP answer has been
    /// seen; 4: the frames have begun.
    http_end: usize,
    /// Bytes of the frame header being read (at most 14).
    header: Vec<u8>,
    /// Payload bytes of the current frame still to come.
    payload_left: u64,
    /// A data frame without FIN has come, its final fragment not yet.
    message_open: bool,
}

impl<S> Tracked<S> {
    pub fn new(inner: S) -> Tracked<S> {
        Tracked {
            inner,
            http_end: 0,
            header: Vec::with_capacity(14),
            payload_left: 0,
            message_open: false,
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Whether the stream, were it to end here, would end in the middle of
    /// a frame or of a fragmented message.
    pub fn in_the_middle(&self) -> bool {
        !self.header.is_empty() || self.payload_left > 0 || self.message_open
    }

    fn follow(&mut self, mut bytes: &[u8]) {
        while self.http_end < HTTP_END.len() {
            let Some((&b, rest)) = bytes.split_first() else {
                return;
            };
            bytes = rest;
            self.http_end = if b == HTTP_END[self.http_end] {
                self.http_end + 1
            } else {
                usize::from(b == HTTP_END[0])
            };
        }
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let n = self.payload_left.min(bytes.len() as u64);
                self.payload_left -= n;
                bytes = &bytes[n as usize..];
                continue;
            }
            self.header.push(bytes[0]);
            bytes = &bytes[1..];
            let Some(len) = header_len(&self.header) else {
                continue;
            };
            if self.header.len() < len {
                continue;
            }
            let fin = self.header[0] & 0x80 != 0;
            // Data (0x1, 0x2) and continuation (0x0) frames make up
            // messages; control frames (0x8 and up) come between them.
            if self.header[0] & 0x0f < 0x8 {
                self.message_open = !fin;
            }
            self.payload_left = payload_len(&self.header);
            self.header.clear();
        }
    }
}

/// The blank line that ends the HTTP answer.
const HTTP_END: &[u8] = b"\r\n\r\n";

/// The length of a header that starts with `h`, once its second byte is in.
fn header_len(h: &[u8]) -> Option<usize> {
    let second = *h.get(1)?;
    let extended = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    Some(2 + extended + mask)
}

/// The payload length of a whole header.
fn payload_len(h: &[u8]) -> u64 {
    match h[1] & 0x7f {
        126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
        127 => u64::from_be_bytes(h[2..10].try_into().unwrap_or_default()),
        n => u64::from(n),
    }
}

impl<S: Read> Read for Tracked<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.follow(&buf[..n]);
        Ok(n)
    }
}

impl<S: Write> Write for Tracked<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(chunks: &[&[u8]]) -> bool {
        let mut t = Tracked::new(io::empty());
        t.follow(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
        for chunk in chunks {
            t.follow(chunk);
        }
        t.in_the_middle()
    }

    #[test]
    fn whole_frames_are_boundaries() {
        assert!(!after(&[]));
        assert!(!after(&[&[0x82, 3, b'a', b'b', b'c']]));
        // 126: 16-bit length; split anywhere.
        let mut frame = vec![0x82, 126, 0x01, 0x00];
        frame.extend(vec![b'x'; 256]);
        for cut in 0..frame.len() {
            assert!(after(&[&frame[..cut]]) == (cut > 0), "{cut}");
            assert!(!after(&[&frame[..cut], &frame[cut..]]), "{cut}");
        }
        // 127: 64-bit length, and a masked header.
        assert!(after(&[&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]]));
        assert!(!after(&[&[0x82, 0x80 | 1, 1, 2, 3, 4, b'z']]));
    }

    #[test]
    fn a_fragmented_message_is_open_until_its_final_fragment() {
        let first = [0x02, 1, b'a']; // binary, no FIN
        let ping = [0x89, 0]; // a control frame between fragments
        let last = [0x80, 1, b'b']; // continuation with FIN
        assert!(after(&[&first]));
        assert!(after(&[&first, &ping]));
        assert!(!after(&[&first, &ping, &last]));
    }

    #[test]
    fn the_http_answer_is_skipped_even_with_frames_in_the_same_read() {
        let mut t = Tracked::new(io::empty());
        t.follow(b"HTTP/1.1 101 Switching Protocols\r\n\r");
        assert!(!t.in_the_middle());
        t.follow(&[b'\n', 0x82, 2, b'o']);
        assert!(t.in_the_middle());
        t.follow(b"k");
        assert!(!t.in_the_middle());
    }
}
