//! The bodies of the fuzz targets (docs/HARDENING.md), one plain function
//! each, so that two callers run exactly the same code:
//!
//! - `fuzz/fuzz_targets/<name>.rs`, the libFuzzer target that
//!   `make fuzz` runs with cargo-fuzz on the nightly toolchain;
//! - `tests/corpus.rs`, which replays the committed corpus
//!   `fuzz/corpus/<name>/` on stable in `cargo test`, so that CI needs no
//!   nightly and a fixed crash stays fixed.
//!
//! Each function takes arbitrary bytes, drives one codec of the workspace
//! with them, and panics when the codec panics or breaks one of the
//! properties written next to it: the properties are what a fuzzer checks
//! beyond "does not crash".

mod cbc_frame;
mod command;
mod mcast_frame;
mod reset;
mod secure_request;
mod splitter;

pub use cbc_frame::{cbc_frame, genuine_frames};
pub use command::command;
pub use mcast_frame::mcast_frame;
pub use reset::reset;
pub use secure_request::secure_request;
pub use splitter::splitter;

/// A harness: takes any bytes, panics on a broken property.
pub type Harness = fn(&[u8]);

/// Every target, by the name of its libFuzzer target and corpus folder.
pub const TARGETS: &[(&str, Harness)] = &[
    ("cbc_frame", cbc_frame),
    ("command", command),
    ("mcast_frame", mcast_frame),
    ("reset", reset),
    ("secure_request", secure_request),
    ("splitter", splitter),
];

/// A small deterministic generator (xorshift64*) seeded from the input, for
/// harnesses that derive chunk boundaries from the bytes they are given:
/// the same input always makes the same cuts, so a crash replays.
#[derive(Debug, Clone)]
pub(crate) struct Cuts(u64);

impl Cuts {
    pub(crate) fn new(seed: &[u8]) -> Cuts {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for &b in seed {
            state = (state ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Cuts(state | 1)
    }

    /// The next chunk length, from 0 to `max`.
    pub(crate) fn next(&mut self, max: usize) -> usize {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % (max + 1)
    }

    /// `bytes` cut into chunks of up to `max` bytes (empty ones included:
    /// a `recv()` can return nothing new to a parser).
    pub(crate) fn chunks<'a>(&mut self, mut bytes: &'a [u8], max: usize) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let n = self.next(max).min(bytes.len());
            let (chunk, rest) = bytes.split_at(n);
            out.push(chunk);
            bytes = rest;
        }
        out
    }
}
