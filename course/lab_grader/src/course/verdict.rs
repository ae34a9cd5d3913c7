//! The course's verdicts on what a program printed, as pure functions.
//!
//! - Messages (Parts 2 and 5): the messages appear in order, each once,
//!   one per line, whatever else the program prints on other lines (a
//!   prefix such as `Received:` or Python's `b'…'` around one message on
//!   its line is fine). Two messages on one line, a piece of a message, a
//!   number twice or out of order, or a message missing fail. Other lines
//!   are reported.
//! - Flood: the text appears whole, in one piece; when the program put
//!   line breaks of its own between the pieces it received (`print()` per
//!   `recv()`), the text still arrived whole: a pass, with a warning.
//! - Offset (Part 3): a line that does not echo the request shows a
//!   number the server actually answered.

/// A line of output for a verdict: quoted, escaped, at most 60 bytes.
pub fn quote(line: &str) -> String {
    let bytes = line.as_bytes();
    let cut = bytes.len().min(60);
    let more = if cut < bytes.len() { "…" } else { "" };
    format!("\"{}{more}\"", bytes[..cut].escape_ascii())
}

const MESSAGE: &str = "This is PMU data";

/// Parts 2 and 5: the `n` messages from 0; notes on what else was printed.
pub fn messages(out: &[u8], n: u64) -> Result<Vec<String>, String> {
    let text = String::from_utf8_lossy(out);
    let mut next = 0u64;
    let mut extra: Vec<&str> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let count = line.matches(MESSAGE).count();
        if count == 0 {
            if !line.trim().is_empty() {
                extra.push(line);
            }
            continue;
        }
        let at = i + 1;
        if count > 1 {
            return Err(format!(
                "line {at} holds {count} messages: {} (one per line)",
                quote(line)
            ));
        }
        let start = line.find(MESSAGE).unwrap_or(0);
        let digits: String = line[start + MESSAGE.len()..]
            .strip_prefix(' ')
            .map(|r| r.chars().take_while(char::is_ascii_digit).collect())
            .unwrap_or_default();
        let glued = line[..start]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        let k = match digits.parse::<u64>() {
            Ok(k) if !glued => k,
            _ => {
                return Err(format!("line {at}: {} is not a whole message", quote(line)));
            }
        };
        if k != next {
            return Err(if k < next {
                format!(
                    "line {at}: message {k} again, where {next} was due: {}",
                    quote(line)
                )
            } else {
                format!(
                    "line {at}: message {k} where {next} was due (missing in between): {}",
                    quote(line)
                )
            });
        }
        if k >= n {
            return Err(format!(
                "line {at}: message {k}, but the server sent {n} (0 to {})",
                n - 1
            ));
        }
        next += 1;
    }
    if next < n {
        return Err(format!(
            "{next} of the {n} messages printed (This is PMU data 0 to {})",
            n - 1
        ));
    }
    Ok(other_lines(&extra))
}

fn other_lines(extra: &[&str]) -> Vec<String> {
    match extra {
        [] => Vec::new(),
        [one] => vec![format!("also printed 1 other line: {}", quote(one))],
        [first, ..] => vec![format!(
            "also printed {} other lines, the first {}",
            extra.len(),
            quote(first)
        )],
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    let head = &needle[..needle.len().min(32)];
    (0..haystack.len().saturating_sub(needle.len() - 1))
        .find(|&i| haystack[i..].starts_with(head) && haystack[i..i + needle.len()] == *needle)
}

/// `CMD_floodme`: the whole `flood` in `out`.
pub fn flood(out: &[u8], flood: &[u8]) -> Result<Vec<String>, String> {
    if let Some(at) = find(out, flood) {
        let other = out.len() - flood.len();
        let mut notes = Vec::new();
        if other > 2 || at > 0 {
            notes.push(format!(
                "also printed {other} other byte(s) around the text"
            ));
        }
        return Ok(notes);
    }
    let strip = |b: &[u8]| -> Vec<u8> {
        b.iter()
            .copied()
            .filter(|c| *c != b'\n' && *c != b'\r')
            .collect()
    };
    if find(&strip(out), &strip(flood)).is_some() {
        return Ok(vec![
            "the text arrived whole, cut by line breaks of the program's own (print per recv())"
                .to_string(),
        ]);
    }
    let start = &flood[..flood.len().min(32)];
    match find(out, start) {
        None => Err(format!(
            "the text is not in the output (it starts {}); printed {} byte(s)",
            quote(&String::from_utf8_lossy(start)),
            out.len()
        )),
        Some(at) => {
            let same = out[at..]
                .iter()
                .zip(flood)
                .take_while(|(a, b)| a == b)
                .count();
            Err(format!(
                "only the first {same} of the {} bytes of the text printed in one piece",
                flood.len()
            ))
        }
    }
}

/// Part 3: the offset printed, if it is one the server answered.
pub fn offset(out: &[u8], answered: &[u32]) -> Option<u32> {
    let text = String::from_utf8_lossy(out);
    for line in text.lines() {
        if line.to_ascii_uppercase().contains("RESET") {
            continue;
        }
        for word in line.split(|c: char| !c.is_ascii_digit()) {
            if let Ok(n) = word.parse::<u32>()
                && answered.contains(&n)
            {
                return Some(n);
            }
        }
    }
    None
}

/// Part 4's receiver: how many of the TV channel's `lines` were printed.
pub fn lines_shown(out: &[u8], lines: &[String]) -> usize {
    let text = String::from_utf8_lossy(out);
    lines
        .iter()
        .filter(|l| !l.trim().is_empty() && text.contains(l.trim()))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(range: std::ops::Range<u64>) -> String {
        range.map(|i| format!("This is PMU data {i}\n")).collect()
    }

    #[test]
    fn messages_in_order_one_per_line_pass_whatever_else() {
        assert_eq!(messages(lines(0..20).as_bytes(), 20), Ok(vec![]));
        let out = format!(
            "Connecting\n{}done\n",
            lines(0..20).replace("This", "b'This")
        );
        let notes = messages(out.as_bytes(), 20).unwrap();
        assert!(notes[0].contains("2 other lines"), "{notes:?}");
    }

    #[test]
    fn the_course_s_mistakes_fail() {
        // A fixed-length split of 18 bytes breaks at i = 10.
        let stream = lines(0..20).replace('\n', "");
        let cut: String = stream
            .as_bytes()
            .chunks(18)
            .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
            .collect();
        let why = messages(cut.as_bytes(), 20).unwrap_err();
        assert!(why.contains("line 11") && why.contains("again"), "{why}");
        // Everything on one line.
        let why = messages(format!("{stream}\n").as_bytes(), 20).unwrap_err();
        assert!(why.contains("20 messages"), "{why}");
        // Missing the last ones, numbered from 1, a glued piece.
        assert!(messages(lines(0..19).as_bytes(), 20).is_err());
        assert!(messages(lines(1..21).as_bytes(), 20).is_err());
        assert!(messages(b"0This is PMU data 1\n", 2).is_err());
        assert!(messages(lines(0..21).as_bytes(), 20).is_err());
    }

    #[test]
    fn the_flood_must_arrive_whole() {
        let text = b"ACT I\nSCENE I. Elsinore. A platform before the castle.\n".repeat(50);
        let mut out = b"got:\n".to_vec();
        out.extend_from_slice(&text);
        out.push(b'\n');
        assert!(flood(&out, &text).is_ok());
        let cut: Vec<u8> = text
            .chunks(1000)
            .flat_map(|c| [c, b"\n"].concat())
            .collect();
        assert_eq!(flood(&cut, &text).unwrap().len(), 1);
        let why = flood(&text[..1024], &text).unwrap_err();
        assert!(why.contains("first 1024"), "{why}");
        assert!(flood(b"", &text).is_err());
    }

    #[test]
    fn the_offset_must_be_one_the_server_sent() {
        assert_eq!(offset(b"Sending RESET:20\nOffset: 7\n", &[7]), Some(7));
        assert_eq!(offset(b"Sending RESET:20\n", &[20]), None);
        assert_eq!(offset(b"OFFSET:13\n", &[12]), None);
    }
}
