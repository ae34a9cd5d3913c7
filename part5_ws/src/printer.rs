//! How the answer to one command is printed (docs/SPEC.md, "Client output"): the
//! same as `part2_pdc`, but a WebSocket message is already one PMU message,
//! so there is nothing to re-cut.

use common::Command;
use std::io::{self, Write};

/// Prints the messages of one command's answer.
#[derive(Debug)]
pub struct Printer {
    flood: bool,
    messages: u64,
    bytes: u64,
    last: Option<u8>,
}

impl Printer {
    pub fn new(command: &Command) -> Printer {
        Printer {
            flood: matches!(command, Command::Floodme),
            messages: 0,
            bytes: 0,
            last: None,
        }
    }

    /// Prints one message: `CMD_short`'s on its own line, floodme's bytes as
    /// they are.
    pub fn message(&mut self, data: &[u8], out: &mut impl Write) -> io::Result<()> {
        self.messages += 1;
        self.bytes += data.len() as u64;
        out.write_all(data)?;
        if self.flood {
            if let Some(&b) = data.last() {
                self.last = Some(b);
            }
            Ok(())
        } else {
            out.write_all(b"\n")
        }
    }

    /// Ends the answer: a flood that does not end with a newline gets one.
    pub fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        match self.last {
            Some(b) if b != b'\n' => out.write_all(b"\n"),
            _ => Ok(()),
        }
    }

    pub fn messages(&self) -> u64 {
        self.messages
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(command: &str, messages: &[&[u8]]) -> Vec<u8> {
        let mut printer = Printer::new(&command.parse().unwrap());
        let mut out = Vec::new();
        for m in messages {
            printer.message(m, &mut out).unwrap();
        }
        printer.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn short_messages_are_lines() {
        assert_eq!(
            print(
                "CMD_short:0",
                &[b"This is PMU data 0", b"This is PMU data 1"]
            ),
            b"This is PMU data 0\nThis is PMU data 1\n"
        );
        assert_eq!(print("CMD_short:0", &[]), b"");
    }

    #[test]
    fn floods_get_only_a_missing_final_newline() {
        assert_eq!(print("CMD_floodme", &[b"abc"]), b"abc\n");
        assert_eq!(print("CMD_floodme", &[b"abc\n"]), b"abc\n");
        assert_eq!(print("CMD_floodme", &[b"ab", b"c"]), b"abc\n");
        assert_eq!(print("CMD_floodme", &[b"abc\n", b""]), b"abc\n");
        assert_eq!(print("CMD_floodme", &[]), b"");
    }
}
