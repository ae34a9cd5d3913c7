//! The shared key: 64 random bytes from the OS, kept in a file as 128
//! hex digits and a newline (docs/SPEC.md, "CBC messages"). The first 32 bytes
//! are the AES-256 key, the last 32 the HMAC-SHA256 key.
//!
//! Two independent keys, not one used twice: using the same key for the
//! cipher and the MAC ties the two together in ways neither was analysed
//! for (with CBC-MAC it is a known break); with two random keys the
//! security of encrypt-then-MAC follows from that of each part.

use aes::Aes256;
use aes::cipher::KeyInit;
use anyhow::{Context, anyhow, bail};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// Bytes in each of the two keys.
pub const KEY_LEN: usize = 32;

/// Hex digits in a key file, newline not counted.
pub const HEX_DIGITS: usize = 4 * KEY_LEN;

/// The two keys of a key file.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    cipher: [u8; KEY_LEN],
    mac: [u8; KEY_LEN],
}

impl fmt::Debug for Keys {
    // Never print a key, not even in a test failure or a debug log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys { .. }")
    }
}

/// Why the text of a key file is not a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not 128 characters once the final newline and spaces are trimmed.
    WrongLength(usize),
    /// A character that is not a hex digit, and its position (from 1).
    NotHex(char, usize),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::WrongLength(n) => write!(
                f,
                "it holds {n} characters, not the {HEX_DIGITS} hex digits of a key"
            ),
            KeyError::NotHex(c, at) => {
                write!(f, "character {at} ({c:?}) is not a hex digit")
            }
        }
    }
}

impl std::error::Error for KeyError {}

impl Keys {
    /// Keys from their bytes (tests, or keys made elsewhere).
    pub fn from_bytes(cipher: [u8; KEY_LEN], mac: [u8; KEY_LEN]) -> Keys {
        Keys { cipher, mac }
    }

    /// 64 fresh bytes from the OS's random source (`getrandom(2)` on
    /// Linux), the same source as the IVs.
    pub fn generate() -> io::Result<Keys> {
        let mut cipher = [0u8; KEY_LEN];
        let mut mac = [0u8; KEY_LEN];
        fill_random(&mut cipher)?;
        fill_random(&mut mac)?;
        Ok(Keys { cipher, mac })
    }

    /// The AES-256 block cipher under the first key.
    pub fn cipher(&self) -> Aes256 {
        Aes256::new(&self.cipher.into())
    }

    /// The HMAC-SHA256 key.
    pub fn mac_key(&self) -> &[u8; KEY_LEN] {
        &self.mac
    }

    /// The key file's text: 128 lowercase hex digits and a newline.
    pub fn to_file_text(&self) -> String {
        let mut text = String::with_capacity(HEX_DIGITS + 1);
        for byte in self.cipher.iter().chain(self.mac.iter()) {
            text.push(hex_digit(byte >> 4));
            text.push(hex_digit(byte & 0x0f));
        }
        text.push('\n');
        text
    }

    /// Parses a key file's text: 128 hex digits, either case, with or
    /// without the final newline (LF or CRLF) and surrounding spaces.
    pub fn parse(text: &str) -> Result<Keys, KeyError> {
        let digits = text.trim();
        if let Some((at, c)) = digits
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_hexdigit())
        {
            return Err(KeyError::NotHex(c, at + 1));
        }
        // All ASCII now, so bytes and characters agree.
        if digits.len() != HEX_DIGITS {
            return Err(KeyError::WrongLength(digits.len()));
        }
        let mut bytes = [0u8; 2 * KEY_LEN];
        for (byte, pair) in bytes.iter_mut().zip(digits.as_bytes().chunks_exact(2)) {
            *byte = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
        }
        let mut keys = Keys {
            cipher: [0; KEY_LEN],
            mac: [0; KEY_LEN],
        };
        keys.cipher.copy_from_slice(&bytes[..KEY_LEN]);
        keys.mac.copy_from_slice(&bytes[KEY_LEN..]);
        Ok(keys)
    }

    /// Reads the key file at `path`. Every error names the file and says
    /// to run `cbc_msg keygen`.
    pub fn load(path: &Path) -> anyhow::Result<Keys> {
        let shown = path.display();
        let hint = format!("make one with 'cbc_msg keygen --out {shown}'");
        // The hint goes last, where the eye lands: one flat line rather
        // than a cause chain that would put it in the middle.
        let file =
            File::open(path).map_err(|err| anyhow!("reading key file '{shown}': {err}; {hint}"))?;
        // A key file is 129 bytes; never read a big file by mistake.
        let mut raw = Vec::new();
        file.take(4096)
            .read_to_end(&mut raw)
            .with_context(|| format!("reading key file '{shown}'"))?;
        let Ok(text) = std::str::from_utf8(&raw) else {
            bail!("key file '{shown}' is not a key: it is not text; {hint}");
        };
        Keys::parse(text).map_err(|err| anyhow!("key file '{shown}' is not a key: {err}; {hint}"))
    }

    /// Writes the key file at `path`, readable by its owner only (0600:
    /// anyone who reads it can read and forge every message). An existing
    /// file is kept unless `force`, and then replaced atomically (a new
    /// file renamed over it), so that a failure never leaves half a key.
    pub fn save(&self, path: &Path, force: bool) -> anyhow::Result<()> {
        let shown = path.display();
        if !force {
            return write_new(path, self.to_file_text().as_bytes()).map_err(|err| {
                if err.kind() == io::ErrorKind::AlreadyExists {
                    anyhow::anyhow!(
                        "writing key file '{shown}': the file exists; keep it, or add \
                         --force to replace it (messages sealed with the old key can \
                         then no longer be read)"
                    )
                } else {
                    anyhow::Error::new(err).context(format!("writing key file '{shown}'"))
                }
            });
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "key".into());
        let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let written =
            write_new(&temp, self.to_file_text().as_bytes()).and_then(|()| fs::rename(&temp, path));
        if let Err(err) = written {
            let _ = fs::remove_file(&temp);
            return Err(err).with_context(|| format!("writing key file '{shown}'"));
        }
        Ok(())
    }
}

/// The file's mode if group or others may read or write it (Unix).
pub fn loose_permissions(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Fills `buf` from the OS's random source.
pub fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    getrandom::fill(buf)
        .map_err(|err| io::Error::other(format!("reading the OS's random source: {err}")))
}

/// Creates `path`, failing if it exists (`O_CREAT | O_EXCL`), with mode
/// 0600 from the start: there is no moment when the key is readable by
/// others, as there would be with a chmod after the write.
fn write_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0x0f)])
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0, // parse() has checked every digit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Keys {
        let mut cipher = [0u8; KEY_LEN];
        let mut mac = [0u8; KEY_LEN];
        for i in 0..KEY_LEN {
            cipher[i] = i as u8;
            mac[i] = 0xff - i as u8;
        }
        Keys::from_bytes(cipher, mac)
    }

    #[test]
    fn file_text_round_trips() {
        let keys = sample();
        let text = keys.to_file_text();
        assert_eq!(text.len(), HEX_DIGITS + 1);
        assert!(text.starts_with("000102"));
        assert!(text.ends_with("e2e1e0\n"));
        assert_eq!(Keys::parse(&text), Ok(keys.clone()));
        assert_eq!(Keys::parse(&text.to_uppercase()), Ok(keys.clone()));
        assert_eq!(Keys::parse(text.trim_end()), Ok(keys.clone()));
        assert_eq!(Keys::parse(&text.replace('\n', "\r\n")), Ok(keys));
    }

    #[test]
    fn bad_texts_say_why() {
        assert_eq!(Keys::parse(""), Err(KeyError::WrongLength(0)));
        assert_eq!(Keys::parse("abcd\n"), Err(KeyError::WrongLength(4)));
        let long = "0".repeat(HEX_DIGITS + 2);
        assert_eq!(Keys::parse(&long), Err(KeyError::WrongLength(130)));
        let mut text = sample().to_file_text();
        text.replace_range(4..5, "g");
        assert_eq!(Keys::parse(&text), Err(KeyError::NotHex('g', 5)));
        let spaced = "00 ".repeat(64);
        assert!(matches!(
            Keys::parse(&spaced),
            Err(KeyError::NotHex(' ', 3))
        ));
    }

    #[test]
    fn debug_hides_the_keys() {
        assert_eq!(format!("{:?}", sample()), "Keys { .. }");
    }

    #[test]
    fn generated_keys_differ() {
        let a = Keys::generate().unwrap();
        let b = Keys::generate().unwrap();
        assert_ne!(a, b);
        assert_ne!(a.cipher, a.mac);
    }
}
