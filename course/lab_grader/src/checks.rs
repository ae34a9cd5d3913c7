//! What several parts check the same way: the PMU output of Parts 2, 5
//! and 6, a byte-for-byte comparison that says where it went wrong, and an
//! in-process `lab_server` on loopback.

use crate::proc::{self, Finished, Next, Running, snippet};
use lab_server::{Config, LabServer};
use std::time::Instant;

/// What a PDC prints for `CMD_short`: `n` messages from `first`, one line
/// each.
pub fn pmu_lines(first: u64, n: u64) -> Vec<u8> {
    (first..first + n)
        .flat_map(|i| format!("This is PMU data {i}\n").into_bytes())
        .collect()
}

/// The PMU's `CMD_short` stream on the wire: the messages back to back.
pub fn pmu_wire(first: u64, n: u64) -> Vec<u8> {
    (first..first + n)
        .flat_map(|i| format!("This is PMU data {i}").into_bytes())
        .collect()
}

/// The newline a client adds after a flood that does not end with one
/// (docs/SPEC.md: "nothing added but one final newline").
pub fn final_newline(flood: &[u8]) -> &'static [u8] {
    if flood.is_empty() || flood.ends_with(b"\n") {
        b""
    } else {
        b"\n"
    }
}

/// `Ok` when `got` is `expected`; otherwise where they first differ.
pub fn same_bytes(what: &str, got: &[u8], expected: &[u8]) -> Result<(), String> {
    if got == expected {
        return Ok(());
    }
    let at = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    if at == got.len() {
        return Err(format!(
            "{what}: {} bytes instead of {}; missing from byte {at}: {}",
            got.len(),
            expected.len(),
            snippet(expected, at)
        ));
    }
    if at == expected.len() {
        return Err(format!(
            "{what}: {} bytes instead of {}; extra from byte {at}: {}",
            got.len(),
            expected.len(),
            snippet(got, at)
        ));
    }
    Err(format!(
        "{what} differs at byte {at}: expected {}, got {}",
        snippet(expected, at),
        snippet(got, at)
    ))
}

/// A finished run that exited 0 and printed exactly `expected`.
pub fn exact_output(run: &Finished, expected: &[u8]) -> Result<(), String> {
    same_bytes("stdout", &run.stdout, expected)?;
    success(run)
}

/// `Ok` when the run exited 0.
pub fn success(run: &Finished) -> Result<(), String> {
    if run.status.success() {
        Ok(())
    } else {
        Err(proc::failed_status(run.status, &run.stderr))
    }
}

/// Reads the child's stdout as it comes and compares it with the
/// concatenation of `expected`, without holding it (a flood may be large);
/// then waits for a successful exit.
pub fn stream_equals(
    child: &mut Running,
    expected: &[&[u8]],
    deadline: Instant,
) -> Result<(), String> {
    let total: usize = expected.iter().map(|p| p.len()).sum();
    let mut at = 0usize;
    loop {
        match child.next_chunk(deadline) {
            Next::Data(_, bytes) => {
                if let Some(i) = first_difference(expected, at, &bytes) {
                    let pos = at + i;
                    return Err(if pos >= total {
                        format!(
                            "stdout longer than the {total} bytes expected; extra: {}",
                            snippet(&bytes, i)
                        )
                    } else {
                        format!(
                            "stdout differs at byte {pos} of {total}: expected {}, got {}",
                            snippet(&concat_from(expected, pos), 0),
                            snippet(&bytes, i)
                        )
                    });
                }
                at += bytes.len();
            }
            Next::Eof => break,
            Next::Timeout => {
                return Err(format!(
                    "{} still running after {} with {at} of {total} bytes printed (killed)",
                    child.name(),
                    proc::secs(child.started().elapsed())
                ));
            }
        }
    }
    let status = child.wait_exit(deadline);
    if at < total {
        let how = match status {
            Some(status) if !status.success() => {
                format!("; {}", proc::failed_status(status, &child.stderr()))
            }
            _ => String::new(),
        };
        return Err(format!(
            "stdout ends after {at} of {total} bytes; missing: {}{how}",
            snippet(&concat_from(expected, at), 0)
        ));
    }
    match status {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(proc::failed_status(status, &child.stderr())),
        None => Err(format!(
            "{} printed everything but did not exit (killed)",
            child.name()
        )),
    }
}

/// Where `chunk`, placed at `at` in the concatenation of `parts`, first
/// differs from it (or runs past its end), slice by slice.
fn first_difference(parts: &[&[u8]], at: usize, chunk: &[u8]) -> Option<usize> {
    let mut done = 0usize;
    let mut start = 0usize;
    for part in parts {
        let end = start + part.len();
        if done < chunk.len() && at + done < end {
            let from = at + done - start;
            let n = (part.len() - from).min(chunk.len() - done);
            if let Some(i) = part[from..from + n]
                .iter()
                .zip(&chunk[done..done + n])
                .position(|(a, b)| a != b)
            {
                return Some(done + i);
            }
            done += n;
        }
        start = end;
    }
    (done < chunk.len()).then_some(done)
}

fn byte_at(parts: &[&[u8]], mut pos: usize) -> Option<u8> {
    for part in parts {
        if pos < part.len() {
            return Some(part[pos]);
        }
        pos -= part.len();
    }
    None
}

/// Up to 64 bytes of the concatenation from `pos`.
fn concat_from(parts: &[&[u8]], pos: usize) -> Vec<u8> {
    (pos..pos + 64).map_while(|p| byte_at(parts, p)).collect()
}

/// A line of stdout (without its newline) and when its last byte came.
pub type TimedLine = (Instant, Vec<u8>);

/// Every line of stdout with the time its last byte arrived, until stdout
/// closes or the deadline passes (then `Err` with the lines so far).
pub fn timed_lines(
    child: &mut Running,
    deadline: Instant,
) -> Result<Vec<TimedLine>, Vec<TimedLine>> {
    let mut lines = Vec::new();
    let mut partial = Vec::new();
    loop {
        match child.next_chunk(deadline) {
            Next::Data(at, bytes) => {
                for b in bytes {
                    if b == b'\n' {
                        lines.push((at, std::mem::take(&mut partial)));
                    } else {
                        partial.push(b);
                    }
                }
            }
            Next::Eof => {
                if !partial.is_empty() {
                    lines.push((Instant::now(), partial));
                }
                return Ok(lines);
            }
            Next::Timeout => return Err(lines),
        }
    }
}

/// `lab_server` on a free port of 127.0.0.1 and ::1, every service off but
/// those `tweak` turns on (`Config::ephemeral` turns on TCP, UDP and
/// WebSocket; a case keeps what it needs).
pub fn lab_server(tweak: impl FnOnce(&mut Config)) -> Result<LabServer, String> {
    let mut config = Config::ephemeral();
    config.tcp_port = None;
    config.udp_port = None;
    config.ws_port = None;
    config.mcast_port = None;
    tweak(&mut config);
    LabServer::start(config).map_err(|err| format!("grader: starting lab_server: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_located() {
        assert!(same_bytes("x", b"abc", b"abc").is_ok());
        let err = same_bytes("stdout", b"abX", b"abc").unwrap_err();
        assert!(err.contains("byte 2"), "{err}");
        let err = same_bytes("stdout", b"ab", b"abc").unwrap_err();
        assert!(err.contains("missing from byte 2"), "{err}");
        let err = same_bytes("stdout", b"abcd", b"abc").unwrap_err();
        assert!(err.contains("extra from byte 3"), "{err}");
    }

    #[test]
    fn pmu_output() {
        assert_eq!(
            pmu_lines(1, 2),
            b"This is PMU data 1\nThis is PMU data 2\n".to_vec()
        );
        assert_eq!(
            pmu_wire(0, 2),
            b"This is PMU data 0This is PMU data 1".to_vec()
        );
        assert_eq!(final_newline(b"abc"), b"\n");
        assert_eq!(final_newline(b"abc\n"), b"");
        assert_eq!(byte_at(&[b"ab", b"cd"], 2), Some(b'c'));
        let parts: [&[u8]; 2] = [b"abc", b"de"];
        assert_eq!(first_difference(&parts, 0, b"abcde"), None);
        assert_eq!(first_difference(&parts, 2, b"cd"), None);
        assert_eq!(first_difference(&parts, 2, b"cX"), Some(1));
        assert_eq!(first_difference(&parts, 3, b"deF"), Some(2));
        assert_eq!(first_difference(&parts, 5, b"x"), Some(0));
        assert_eq!(concat_from(&[b"ab", b"cd"], 1), b"bcd".to_vec());
    }
}
