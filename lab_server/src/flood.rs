//! The `CMD_floodme` text.

/// One line of the flood: a 10-digit line number, then filler, 64 bytes in
/// all. The numbers make a lost, doubled or reordered chunk visible in a
/// byte-for-byte comparison.
const LINE: &[u8; 64] = b"floodme 0000000000 The quick brown fox jumps over the lazy dog.\n";
const DIGITS: std::ops::Range<usize> = 8..18;

/// The first `len` bytes of the flood text: 64-byte lines numbered from 0.
/// A length that is a multiple of 64 ends with a newline; any other ends
/// inside a line, as the course server's may.
pub fn flood_text(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut line = *LINE;
    let mut number: u64 = 0;
    while out.len() < len {
        let mut n = number;
        for d in line[DIGITS].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let take = (len - out.len()).min(line.len());
        out.extend_from_slice(&line[..take]);
        number += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_and_sized() {
        let text = flood_text(64 * 3 + 5);
        assert_eq!(text.len(), 197);
        assert!(text.starts_with(b"floodme 0000000000 The quick"));
        assert_eq!(&text[64..82], b"floodme 0000000001");
        assert_eq!(&text[192..], b"flood");
        assert!(flood_text(128).ends_with(b"dog.\n"));
        assert!(flood_text(0).is_empty());
    }
}
