//! The PMU stream splitter (`common::splitter`) against a simple model.

use crate::Cuts;
use common::splitter::{MAX_OTHER, PmuSplitter};
use std::convert::Infallible;

/// Splits `chunks` fed one after the other, then finished.
fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut splitter = PmuSplitter::new();
    let mut collect = |m: &[u8]| -> Result<(), Infallible> {
        out.push(m.to_vec());
        Ok(())
    };
    for chunk in chunks {
        let Ok(()) = splitter.feed(chunk, &mut collect);
    }
    let Ok(()) = splitter.finish(&mut collect);
    out
}

/// What `feed_lines` writes for `chunks`, then `finish_lines`: the
/// printing clients' path.
fn lines(chunks: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut splitter = PmuSplitter::new();
    for chunk in chunks {
        splitter.feed_lines(chunk, &mut out);
    }
    splitter.finish_lines(&mut out);
    out
}

/// The messages as lines.
fn as_lines(messages: &[Vec<u8>]) -> Vec<u8> {
    messages
        .iter()
        .flat_map(|m| [m.as_slice(), b"\n"])
        .flatten()
        .copied()
        .collect()
}

/// Properties, for any bytes a server may send:
/// - the messages, put end to end, are exactly the bytes fed in (nothing
///   lost, added or reordered), none is empty, and none is longer than
///   [`MAX_OTHER`] (memory stays bounded whatever the server sends);
/// - how the stream is cut into `recv()`s does not change the messages;
/// - `feed_lines` writes those messages, a line each, however cut.
///
/// And for a valid `CMD_short` stream (built from the input: first index
/// 0 or 1, up to 1100 messages, cut anywhere), the messages are exactly
/// the server's.
pub fn splitter(data: &[u8]) {
    let (seed, stream) = data.split_at(data.len().min(8));
    let whole = split(&[stream]);
    let mut cuts = Cuts::new(seed);
    let chunked = split(&cuts.chunks(stream, 64));
    assert_eq!(chunked, whole, "cutting the stream changed the messages");
    assert_eq!(
        lines(&cuts.chunks(stream, 64)),
        as_lines(&whole),
        "feed_lines wrote other lines"
    );
    assert_eq!(whole.concat(), stream, "bytes lost, added or reordered");
    for message in &whole {
        assert!(!message.is_empty(), "an empty message");
        assert!(message.len() <= MAX_OTHER, "{} bytes", message.len());
    }

    // The model: a server's messages from `first`, one after the other.
    let first = u64::from(seed.first().copied().unwrap_or(0) & 1);
    // Mostly short streams (fast runs); one in 16 long enough to cross
    // from three to four digits.
    let most = if seed.get(4).copied().unwrap_or(0) % 16 == 0 {
        1100
    } else {
        120
    };
    let n = u64::from(u16::from_le_bytes([
        seed.get(1).copied().unwrap_or(0),
        seed.get(2).copied().unwrap_or(0),
    ])) % most;
    let want: Vec<Vec<u8>> = (first..first + n)
        .map(|i| format!("This is PMU data {i}").into_bytes())
        .collect();
    let pmu_stream = want.concat();
    let mut cuts = Cuts::new(data);
    let max = 1 + usize::from(seed.get(3).copied().unwrap_or(0));
    assert_eq!(split(&cuts.chunks(&pmu_stream, max)), want);
    assert_eq!(lines(&cuts.chunks(&pmu_stream, max)), as_lines(&want));
}
