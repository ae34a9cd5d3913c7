//! The PMU clients' receiving side, written once for part2_pdc, part5_ws
//! and part6_pmu's client (each brings its transport):
//!
//! - [`receive`]: receive, print, flush when the socket is drained, until
//!   the server closes; its `Stats` and its errors;
//! - [`print`]: what is printed (one line per `CMD_short` message, re-cut
//!   by `common::splitter`; a flood byte for byte) and the output buffer;
//! - [`splice`]: a flood moved socket → pipe → stdout with `splice(2)` on
//!   Linux, its one unsafe module.

#![deny(unsafe_code)]

pub mod print;
pub mod receive;
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub mod splice;
