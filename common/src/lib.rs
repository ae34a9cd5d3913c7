//! What two parts of the lab share, and only that. (Multicast sockets,
//! for Part 4 and lab_server's TV channel, are the `multicast` crate.)
//!
//! - [`addr`]: dual-stack address resolution (every A and AAAA record, the
//!   v4-mapped form for an IPv6 socket toward an IPv4-only host);
//! - [`command`]: the PMU `Command` codec (`CMD_short:<d>`, `CMD_floodme`);
//! - [`reset`]: the UDP `RESET:<n>` / `OFFSET=X` codec of Part 3;
//! - [`splitter`]: the streaming PMU splitter that re-cuts a TCP byte stream
//!   into `This is PMU data <i>` messages;
//! - [`output`]: standard output the caller flushes when a socket is
//!   drained (the PMU clients' printing is the `pdc` crate);
//! - [`frame`]: the multicast datagram of Part 4, a 6-byte ID and the text,
//!   and how a receiver shows it;
//! - [`cli`]: the conventions every binary follows for arguments, errors and
//!   exit codes (docs/SPEC.md, "Conventions for every binary").

pub mod addr;
pub mod cli;
pub mod command;
pub mod frame;
pub mod output;
pub mod reset;
pub mod splitter;

pub use addr::{Family, resolve};
pub use command::Command;
pub use reset::{Offset, Reset};
pub use splitter::PmuSplitter;
